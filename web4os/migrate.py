"""Run Alembic migrations from code (the CLI, the server start-up and tests)."""

from __future__ import annotations

from alembic.config import Config

from alembic import command
from web4os.config import get_settings
from web4os.resources import resource_dir


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resource_dir("alembic")))
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().resolved_database_url)
                        .replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None) -> None:
    """Bring the database at ``url`` (default: settings) to the latest schema."""
    command.upgrade(alembic_config(url), "head")

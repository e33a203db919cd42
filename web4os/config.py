"""Settings: one object, read from the environment (``WEB4OS_*``) and ``.env``.

Zero configuration is a supported setup: SQLite in a local data directory, the
in-process worker and the offline model. Each of those is swapped by one setting.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything web4os reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="WEB4OS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(default=Path("./.web4os"), description="Where the SQLite file lives.")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite.")

    # Dispatch: "embedded" runs tasks in a thread pool inside the web process,
    # "celery" sends them to Celery workers on the broker.
    dispatch: Literal["embedded", "celery"] = "embedded"
    broker_url: str = "redis://127.0.0.1:6379/0"
    result_backend: str = ""
    embedded_workers: int = Field(default=16, ge=1, le=256)
    worker_concurrency: int = Field(default=32, ge=1, le=512)
    task_lease_seconds: int = Field(default=120, ge=5)
    task_soft_time_limit: int = Field(default=300, ge=5)
    sweep_interval_seconds: float = Field(default=5.0, gt=0)

    # Models. No key and no base URL means the built-in offline model.
    openai_base_url: str = ""
    openai_api_key: str = ""
    openai_model: str = "gpt-4o-mini"
    model_timeout_seconds: float = Field(default=60.0, gt=0)
    model_max_retries: int = Field(default=3, ge=0, le=10)
    offline_latency_seconds: float = Field(default=0.0, ge=0)

    # Planning rules.
    max_plan_tasks: int = Field(default=12, ge=1, le=200)
    max_task_attempts: int = Field(default=3, ge=1, le=20)

    # Credits.
    signup_credit_grant: int = Field(default=1000, ge=0)
    credits_per_1k_tokens_offline: int = Field(default=1, ge=0)
    credits_per_tool_run: int = Field(default=1, ge=0)

    # Web.
    secret_key: str = "dev-insecure-change-me"
    host: str = "127.0.0.1"
    port: int = 8000
    session_days: int = Field(default=14, ge=1)
    secure_cookies: bool = False
    max_goal_title: int = 200
    max_goal_brief: int = 5000

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, else SQLite in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'web4os.sqlite3').resolve()}"

    @property
    def offline_model(self) -> bool:
        """True when no remote model is configured and the offline model answers."""
        return not (self.openai_base_url or self.openai_api_key)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests clear the cache to override)."""
    return Settings()

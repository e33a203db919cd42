"""A real MCP server (the official SDK, streamable HTTP on loopback) for the tool tests.

The address guard refuses loopback by default; tests that connect allow it explicitly,
the way a server admin would (``WEB4OS_NET_ALLOWED_HOSTS``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.agents.conftest import endpoint, fake
from tests.factories import Tenant
from tests.support.mcp_server import RunningServer
from web4os.accounts import tokens
from web4os.accounts.models import Role
from web4os.config import get_settings

TOKEN = "s3cret-mcp-token"


@pytest.fixture(scope="module")
def mcp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = RunningServer(tmp_path_factory.mktemp("mcp") / "orders.txt", token=TOKEN)
    yield server
    server.stop()


@pytest.fixture
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("WEB4OS_NET_ALLOWED_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def bearer(db: Session, tenant: Tenant, role: Role = Role.OWNER) -> dict[str, str]:
    secret = tokens.create_token(db, tenant.ctx(), name=f"api {role.value}", role=role).secret
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


def mcp_only(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A tools listing without the built-in file reader, which every account has."""
    return [i for i in items if (i.get("tool") or i).get("name") != "read_file"]


def stdio_config(journal: Path) -> str:
    import json
    import sys

    return json.dumps({"bakery": {"command": sys.executable,
                                  "args": ["-m", "tests.support.mcp_server", "--stdio",
                                           "--journal", str(journal)]}})


__all__ = ["endpoint", "fake", "mcp_only"]

"""Postgres connections: a pooled connection is pinged only after sitting idle, a dead
one is replaced before use, and every tenant transaction runs inside its wall from its
first statement. Postgres only: runs in CI's second pass."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.conftest import IS_POSTGRES, TEST_DB_URL
from tests.factories import Tenant
from web4os import db as dbmod
from web4os import tenancy
from web4os.db import get_engine, session_factory
from web4os.tenancy import bind_account, tenant_role


@pytest.fixture
def engine() -> Iterator[Engine]:
    """An engine set up as ``db.get_engine`` sets one up, with a pool of one connection."""
    if not IS_POSTGRES:
        pytest.skip("Postgres connections (runs in the Postgres pass)")
    engine = create_engine(TEST_DB_URL, pool_size=1, max_overflow=0)
    dbmod._ping_idle_connections(engine)
    yield engine
    engine.dispose()


def _counting_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counting(dbapi_conn: Any) -> bool:
        pings.append(1)
        return bool(ping(dbapi_conn))

    monkeypatch.setattr(engine.dialect, "do_ping", counting)
    return pings


def test_a_connection_used_a_moment_ago_is_not_pinged(
    engine: Engine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    pings = _counting_pings(engine, monkeypatch)
    monkeypatch.setattr(dbmod, "PING_IDLE_SECONDS", 60.0)
    for _ in range(3):
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT 1")) == 1
    assert pings == []
    monkeypatch.setattr(dbmod, "PING_IDLE_SECONDS", 0.0)  # now every one has been idle
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT 1")) == 1
    assert pings == [1]


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    engine: Engine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with engine.connect() as conn:
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
    with engine.connect() as conn:  # the pool hands the same connection back (not pinged)
        assert conn.scalar(text("SELECT pg_backend_pid()")) == pid
    with get_engine(TEST_DB_URL).connect() as killer:
        assert killer.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    monkeypatch.setattr(dbmod, "PING_IDLE_SECONDS", 0.0)
    with engine.connect() as conn:  # pinged, found dead, replaced: no error reaches us
        assert conn.scalar(text("SELECT pg_backend_pid()")) != pid


def test_tenant_settings_hold_from_the_first_statement_and_after_a_late_binding(
    engine: Engine, tenant: Tenant,
) -> None:
    setting = text("SELECT current_setting('web4os.account_id', true), current_user")
    restricted = tenant_role() if _can_switch_roles() else None
    with session_factory(TEST_DB_URL)() as s:
        bind_account(s, tenant.id)
        account, user = s.execute(setting).one()
        assert account == str(tenant.id)
        assert restricted is None or user == restricted
        s.rollback()
        assert s.execute(setting).one()[0] == str(tenant.id)  # the next transaction too
    with session_factory(TEST_DB_URL)() as s:
        assert s.execute(setting).one()[0] in (None, "")  # unbound
        bind_account(s, tenant.id)  # inside a transaction already begun
        account, user = s.execute(setting).one()
        assert account == str(tenant.id)
        assert restricted is None or user == restricted


def _can_switch_roles() -> bool:
    with get_engine(TEST_DB_URL).connect() as conn:
        return tenancy._can_switch(conn, tenant_role())

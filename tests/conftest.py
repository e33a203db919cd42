"""Test set-up: a real database built by Alembic, real rows from factories, and the
embedded runner for jobs. SQLite by default; Postgres when WEB4OS_TEST_DATABASE_URL is set.

Tests that start threads or processes cannot share one rolled-back transaction, so
every table is emptied after each test instead (fast on both databases).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="web4os-test-"))
TEST_DB_URL = os.environ.get("WEB4OS_TEST_DATABASE_URL") or f"sqlite:///{_TMP / 'test.sqlite3'}"
os.environ["WEB4OS_DATABASE_URL"] = TEST_DB_URL
os.environ["WEB4OS_DATA_DIR"] = str(_TMP)
os.environ.setdefault("WEB4OS_SIGNUP_CREDIT_GRANT", "1000")
# Every TestClient comes from one address; tests of the signup limit set their own.
os.environ.setdefault("WEB4OS_SIGNUPS_PER_ADDRESS_PER_HOUR", "1000")
for key in ("WEB4OS_OPENAI_BASE_URL", "WEB4OS_OPENAI_API_KEY", "WEB4OS_DISPATCH"):
    os.environ.pop(key, None)

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from tests.factories import HeldQueue, Tenant, make_tenant  # noqa: E402
from tests.support.ledger import assert_ledgers_balance  # noqa: E402
from web4os.agents.providers import set_provider_override  # noqa: E402
from web4os.config import get_settings  # noqa: E402
from web4os.db import dispose_engines, get_engine, is_sqlite, session_factory  # noqa: E402
from web4os.models import Base  # noqa: E402
from web4os.queue import set_queue  # noqa: E402
from web4os.workers.embedded import EmbeddedRunner  # noqa: E402

IS_POSTGRES = not is_sqlite(TEST_DB_URL)


def _reset_postgres(url: str) -> None:
    """Create the test database if needed and empty its schema."""
    import psycopg

    u = make_url(url)
    admin = u.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (u.database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{u.database}"')
    target = u.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def pytest_sessionstart(session: pytest.Session) -> None:
    get_settings.cache_clear()
    if IS_POSTGRES:
        _reset_postgres(TEST_DB_URL)
    from web4os.migrate import upgrade

    upgrade(TEST_DB_URL)  # the schema comes from the migrations, never create_all


def _truncate() -> None:
    engine = get_engine(TEST_DB_URL)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if IS_POSTGRES:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                              + " RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))


@pytest.fixture(autouse=True)
def _clean_database() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    set_provider_override(None)
    shared = EmbeddedRunner._shared
    if shared is not None:  # work was enqueued without the `runner` fixture: stop its
        shared.shutdown(wait=True)  # sweeper so it can't write during later tests
        set_queue(None)
    _truncate()


@pytest.fixture
def db() -> Iterator[Session]:
    """A plain session for arranging and asserting (commit what workers must see).

    On SQLite its transactions are deferred, so lingering reads never block workers.
    """
    # expire_on_commit: after a commit every row is re-read, so a later rollback() is
    # always enough to see what the workers committed meanwhile.
    session = session_factory(TEST_DB_URL, immediate=False)(expire_on_commit=True)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def runner() -> Iterator[EmbeddedRunner]:
    """The in-process runner, installed as the job queue; no background sweeper."""
    r = EmbeddedRunner(workers=4)
    set_queue(r)
    yield r
    r.shutdown(wait=True)
    set_queue(None)
    assert not r.errors, f"jobs raised: {r.errors!r}"


@pytest.fixture
def client(runner: EmbeddedRunner) -> Iterator[TestClient]:
    from web4os.app import create_app

    with TestClient(create_app(start_worker=False)) as c:
        yield c


@pytest.fixture
def tenant(db: Session) -> Tenant:
    """An account with an owner, an operator and a viewer, and 1,000 credits."""
    t = make_tenant(db, "Acme Bakery")
    db.commit()
    return t


@pytest.fixture(autouse=True)
def _ledger_matches_balance(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test: each account's ledger sums to its balance (issue #6)."""
    yield
    for balance in assert_ledgers_balance(TEST_DB_URL).values():
        assert balance >= 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    dispose_engines()


@pytest.fixture(scope="session")
def llama_url() -> Iterator[str]:
    """A real llama.cpp server (OpenAI-compatible) for the session: its base URL.

    Skipped on a laptop without the ``llama`` extra; in CI (``CI`` set) that is a
    failure, not a silent skip.
    """
    from web4os.localmodel import llama_available, running_llama_server

    ok, reason = llama_available()
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"llama extra missing in CI: {reason}")
        pytest.skip(reason)
    with running_llama_server(n_ctx=2048, threads=2) as base_url:
        yield base_url


@pytest.fixture
def held_queue() -> Iterator[HeldQueue]:
    """Jobs are recorded, not run: the test calls each worker step itself."""
    q = HeldQueue()
    set_queue(q)
    yield q
    set_queue(None)

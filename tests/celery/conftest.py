"""Real Celery workers on real Redis and Postgres.

The database is Postgres even when the rest of the run uses SQLite: the session's
test database on the Postgres pass, else ``WEB4OS_TEST_POSTGRES_URL`` (CI sets it)
or a local one, reset and migrated here once. Redis is ``WEB4OS_TEST_REDIS_URL``
or db 5 on the local server; it is flushed around every test. Without both
services these tests skip on a laptop and fail in CI.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.conftest import IS_POSTGRES, TEST_DB_URL
from tests.support.celery_worker import CeleryStack, reachable
from tests.support.ledger import assert_ledgers_balance
from web4os.db import session_factory
from web4os.models import Base

PG_URL = TEST_DB_URL if IS_POSTGRES else (
    os.environ.get("WEB4OS_TEST_POSTGRES_URL")
    or "postgresql+psycopg://postgres@127.0.0.1:5432/web4os_test_5_celery")
REDIS_URL = os.environ.get("WEB4OS_TEST_REDIS_URL") or "redis://127.0.0.1:6379/5"

pytestmark = [pytest.mark.celery, pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="session")
def _celery_services() -> Path:
    missing = reachable(PG_URL, REDIS_URL)
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}: Celery tests must run in CI")
        pytest.skip(missing)
    if not IS_POSTGRES:  # the Postgres pass already reset and migrated PG_URL
        from tests.support.celery_worker import reset_postgres

        reset_postgres(PG_URL)
    return Path(tempfile.mkdtemp(prefix="web4os-celery-"))


def _truncate_pg() -> None:
    tables = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
    with session_factory(PG_URL)() as s:
        s.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        s.commit()


@pytest.fixture
def stack(_celery_services: Path, request: pytest.FixtureRequest) -> Iterator[CeleryStack]:
    """Postgres + Redis for one test; its workers are killed and the data emptied after."""
    s = CeleryStack(PG_URL, REDIS_URL, _celery_services / request.node.name)
    s.flush_redis()
    try:
        yield s
    finally:
        s.kill_all()
        s.flush_redis()
        if not IS_POSTGRES:  # on the Postgres pass conftest checks and truncates PG_URL
            try:
                assert_ledgers_balance(PG_URL)
            finally:
                _truncate_pg()


@pytest.fixture
def pg(stack: CeleryStack) -> Iterator[Session]:
    """A session on the workers' database (commit what they must see; rollback to re-read)."""
    session = session_factory(PG_URL)()
    try:
        yield session
    finally:
        session.close()

"""Real Celery workers on real Redis and Postgres.

The database is Postgres even when the rest of the run uses SQLite: the session's
test database on the Postgres pass, else ``WEB4OS_TEST_POSTGRES_URL`` (CI sets it)
or a database of this run's own (dropped at the end), reset and migrated here once.
Redis is ``WEB4OS_TEST_REDIS_URL``, else a ``redis-server`` this run starts for itself,
else a database this run claims on the shared server; it is flushed around every test. Without both
services these tests skip on a laptop and fail in CI.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.conftest import IS_POSTGRES, TEST_DB_URL
from tests.support.celery_worker import CeleryStack, drop_database, reachable
from tests.support.ledger import assert_ledgers_balance
from tests.support.private_redis import claimed_database, private_redis
from web4os.db import session_factory
from web4os.models import Base

PG_URL = TEST_DB_URL if IS_POSTGRES else (
    os.environ.get("WEB4OS_TEST_POSTGRES_URL")
    or f"postgresql+psycopg://postgres@127.0.0.1:5432/web4os_test_celery_{os.getpid()}")

pytestmark = [pytest.mark.celery, pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="session")
def _redis_url() -> Iterator[str]:
    """``WEB4OS_TEST_REDIS_URL``, else a Redis server of this run's own, else a database
    this run claims on the shared server."""
    configured = os.environ.get("WEB4OS_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    with private_redis() as url:
        if url:
            yield url
            return
    try:
        with claimed_database() as claimed:
            if claimed is None:
                pytest.fail("every Redis database 1-15 on 127.0.0.1:6379 is held by another "
                            "test run; set WEB4OS_TEST_REDIS_URL or install redis-server")
            yield claimed
    except redis.ConnectionError:
        yield "redis://127.0.0.1:6379/15"  # unreachable: _celery_services skips or fails


@pytest.fixture(scope="session")
def _celery_services(_redis_url: str) -> Iterator[Path]:
    missing = reachable(PG_URL, _redis_url)
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}: Celery tests must run in CI")
        pytest.skip(missing)
    if not IS_POSTGRES:  # the Postgres pass already reset and migrated PG_URL
        from tests.support.celery_worker import reset_postgres

        reset_postgres(PG_URL)
    yield Path(tempfile.mkdtemp(prefix="web4os-celery-"))
    if not IS_POSTGRES and not os.environ.get("WEB4OS_TEST_POSTGRES_URL"):
        drop_database(PG_URL)  # this run's own database


def _truncate_pg() -> None:
    tables = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
    with session_factory(PG_URL)() as s:
        s.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        s.commit()


@pytest.fixture
def stack(_celery_services: Path, _redis_url: str,
          request: pytest.FixtureRequest) -> Iterator[CeleryStack]:
    """Postgres + Redis for one test; its workers are killed and the data emptied after."""
    s = CeleryStack(PG_URL, _redis_url, _celery_services / request.node.name)
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

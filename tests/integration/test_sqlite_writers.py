"""Two read-then-write units of work on SQLite at once: the second waits for the first
(the write lock is taken up front) and neither fails nor loses the other's change."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import IS_POSTGRES, TEST_DB_URL
from tests.factories import Tenant
from web4os.accounts.models import Account
from web4os.db import session_factory

pytestmark = pytest.mark.skipif(IS_POSTGRES, reason="SQLite's write lock")


def _interleave(factory: sessionmaker[Session], account_id: int) -> list[BaseException]:
    """First reads, then the second runs whole, then the first writes what it read."""
    first_read, second_done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def append(letter: str, between: threading.Event | None = None) -> None:
        try:
            with factory() as s:
                name = s.scalar(select(Account.name).where(Account.id == account_id))
                if between is not None:
                    first_read.set()
                    between.wait(1.0)  # up front, the second is still waiting for the lock
                s.execute(update(Account).where(Account.id == account_id)
                          .values(name=f"{name}{letter}"))
                s.commit()
        except BaseException as exc:
            errors.append(exc)
        finally:
            first_read.set()
            if between is None:
                second_done.set()

    first = threading.Thread(target=append, args=("1", second_done))
    first.start()
    first_read.wait(5)
    second = threading.Thread(target=append, args=("2",))
    second.start()
    first.join(10)
    second.join(10)
    return errors


def test_read_then_write_units_queue_for_the_lock(db: Session, tenant: Tenant) -> None:
    assert _interleave(session_factory(TEST_DB_URL), tenant.id) == []
    db.rollback()
    assert db.scalar(select(Account.name).where(Account.id == tenant.id)) == "Acme Bakery12"


def test_deferred_transactions_would_fail_at_once(tenant: Tenant) -> None:
    """Why the write engine does not use them: the first could not upgrade its read."""
    errors = _interleave(session_factory(TEST_DB_URL, immediate=False), tenant.id)
    assert len(errors) == 1 and isinstance(errors[0], OperationalError)
    assert "database is locked" in str(errors[0])

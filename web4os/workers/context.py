"""Sessions for jobs: always bound to one account, or explicitly to none (the sweeper)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from web4os.db import session_factory
from web4os.tenancy import AccountId, bind_account


@contextmanager
def tenant_session(account_id: int) -> Iterator[Session]:
    """A unit of work for one account: commit on success, roll back on error."""
    if not account_id:
        raise ValueError("A job must name its account (fail closed: no default tenant).")
    session = session_factory()()
    bind_account(session, AccountId(account_id))
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def system_session() -> Iterator[Session]:
    """A cross-account session for the sweeper and admin jobs; reads ids, changes nothing."""
    session = session_factory()()
    session.info["web4os.system"] = True
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

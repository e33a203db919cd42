"""SQLite's log is copied into the database in the background, not by a commit."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.conftest import IS_POSTGRES, TEST_DB_URL
from tests.factories import Tenant, make_planned_goal, plan_of
from web4os.db import WAL_AUTOCHECKPOINT_PAGES, checkpoint

pytestmark = pytest.mark.skipif(IS_POSTGRES, reason="SQLite's write-ahead log")


def test_commits_leave_the_log_to_the_background_checkpoint(db: Session, tenant: Tenant) -> None:
    assert db.execute(text("PRAGMA wal_autocheckpoint")).scalar() == WAL_AUTOCHECKPOINT_PAGES
    checkpoint(TEST_DB_URL)
    db.commit()
    make_planned_goal(db, tenant, plan_of(("a", "researcher", []), ("b", "writer", ["a"])))
    db.commit()
    assert checkpoint(TEST_DB_URL) == 0, "nothing else reads: every page of the log is copied"


def test_checkpoint_is_a_no_op_elsewhere() -> None:
    assert checkpoint("postgresql+psycopg://nobody@127.0.0.1:1/none") == 0

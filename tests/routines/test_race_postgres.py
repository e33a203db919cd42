"""Four scheduler loops racing on Postgres: exactly one goal per due time.

Each loop is a thread with its own sessions calling ``fire_due`` for the same instants,
released together by a barrier, as four workers sweeping at once would be.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import IS_POSTGRES
from tests.factories import HeldQueue, Tenant
from tests.routines.conftest import make_routine
from web4os.goals.models import Goal
from web4os.routines.models import RoutineRun, RunOutcome
from web4os.routines.scheduler import fire_due

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not IS_POSTGRES, reason="row locks: the Postgres pass")]

START = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
LOOPS, ROUTINES, SWEEPS = 4, 6, 8


def test_four_loops_make_one_goal_per_due_time(db: Session, tenant: Tenant,
                                                held_queue: HeldQueue,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """The claim decides, not the unique (routine, due time) behind it: a loop that lost
    the claim writes nothing and logs nothing."""
    routines = [make_routine(db, tenant, START, title=f"Routine {i}", preset="cron",
                             cron="0 * * * *", overlap_policy="start")
                for i in range(ROUTINES)]
    instants = [START + timedelta(hours=h + 1) for h in range(SWEEPS)]
    barrier = threading.Barrier(LOOPS)
    claimed: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def loop() -> None:
        try:
            for now in instants:
                barrier.wait(timeout=30)
                n = fire_due(now)
                with lock:
                    claimed.append(n)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=loop) for _ in range(LOOPS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert not [r for r in caplog.records if r.name == "web4os.routines"], caplog.text
    db.rollback()
    runs = db.scalars(select(RoutineRun).where(RoutineRun.account_id == tenant.id)).all()
    expected = ROUTINES * SWEEPS
    assert sum(claimed) == expected  # each due time claimed by exactly one loop
    assert len(runs) == expected
    assert all(r.outcome == RunOutcome.STARTED for r in runs)
    per_due = Counter((r.routine_id, r.due_at) for r in runs)
    assert set(per_due.values()) == {1}
    goals = db.scalars(select(Goal.id).where(Goal.account_id == tenant.id)).all()
    assert len(goals) == expected == len({r.goal_id for r in runs})
    assert {r.id for r in routines} == {r.routine_id for r in runs}

"""No run is lost: a run whose transaction fails leaves its due time due, and the
embedded runner's sweeper fires routines within seconds of their time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.factories import HeldQueue, Tenant
from tests.routines.conftest import goals_of, make_routine, runs
from web4os.db import utcnow
from web4os.queue import set_queue
from web4os.routines import service
from web4os.routines.models import Routine, RoutineRun
from web4os.routines.scheduler import fire_due
from web4os.workers.embedded import EmbeddedRunner

MON_8 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
MON_9 = MON_8 + timedelta(hours=1)


def test_a_failed_run_keeps_its_due_time_due(db: Session, tenant: Tenant,
                                             held_queue: HeldQueue,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    routine = make_routine(db, tenant, MON_8)
    original = service.start_run

    def crash(*args: Any, **kwargs: Any) -> RoutineRun:
        raise RuntimeError("the database went away mid-run")

    monkeypatch.setattr(service, "start_run", crash)
    assert fire_due(MON_9 + timedelta(seconds=2)) == 0
    db.rollback()
    db.refresh(routine)
    assert routine.next_run_at == MON_9  # the claim rolled back with the run
    assert runs(db, routine) == [] and goals_of(db, tenant) == []
    monkeypatch.setattr(service, "start_run", original)
    assert fire_due(MON_9 + timedelta(seconds=7)) == 1
    assert [r.due_at for r in runs(db, routine)] == [MON_9]
    assert len(goals_of(db, tenant)) == 1


def test_the_embedded_sweeper_fires_a_due_routine_within_seconds(db: Session,
                                                                 tenant: Tenant) -> None:
    routine = make_routine(db, tenant, utcnow())
    due = utcnow() + timedelta(seconds=1)
    db.execute(update(Routine).where(Routine.id == routine.id).values(next_run_at=due))
    db.commit()
    runner = EmbeddedRunner(workers=2, sweep_interval=0.5)
    set_queue(runner)
    try:
        runner.start_sweeper()
        deadline = time.monotonic() + 10
        started: RoutineRun | None = None
        while started is None and time.monotonic() < deadline:
            time.sleep(0.2)
            db.rollback()
            started = db.scalars(select(RoutineRun).where(
                RoutineRun.routine_id == routine.id)).first()
        fired_at = utcnow()
    finally:
        runner.shutdown(wait=True)
        set_queue(None)
    assert started is not None and started.goal_id is not None
    assert started.due_at == due
    assert fired_at - due < timedelta(seconds=5)



def test_both_runners_fire_routines_among_their_periodic_steps(
        db: Session, tenant: Tenant, held_queue: HeldQueue,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded sweeper and each Celery worker's sweep turn run ``run_periodic``; a
    step that fails before it (recovery) does not stop the routines."""
    from web4os.workers import periodic

    def broken() -> None:
        raise RuntimeError("recovery failed")

    steps = dict(periodic.STEPS)
    assert steps["routines"] is fire_due
    monkeypatch.setattr(periodic, "STEPS", (("sweep", broken), ("routines", fire_due)))
    routine = make_routine(db, tenant, utcnow())
    db.execute(update(Routine).where(Routine.id == routine.id)
               .values(next_run_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    periodic.run_periodic()
    assert len(runs(db, routine)) == 1

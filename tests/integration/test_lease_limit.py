"""The time limit of a run, whatever the pool: past it, the lease is no longer renewed.

Celery's threads pool enforces neither ``time_limit`` nor ``soft_time_limit``, so a
run that hangs would hold its task forever if the heartbeat kept renewing the lease.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_planned_goal, plan_of
from web4os.config import get_settings
from web4os.db import utcnow
from web4os.goals.models import Task, TaskStatus
from web4os.workers import jobs


def _running_task(db: Session, tenant: Tenant) -> Task:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", [])))
    task = db.scalars(select(Task).where(Task.goal_id == goal.id)).one()
    task.status, task.claim_token = TaskStatus.RUNNING, "token-1"
    task.lease_expires_at = utcnow() + timedelta(seconds=1)
    db.commit()
    return task


def _lease(db: Session, task_id: int) -> object:
    db.rollback()
    return db.scalars(select(Task.lease_expires_at).where(Task.id == task_id)).one()


def test_lease_is_renewed_until_the_time_limit_then_left_to_lapse(
        db: Session, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_TASK_LEASE_SECONDS", "5")  # a beat every 5/3 s
    monkeypatch.setenv("WEB4OS_TASK_SOFT_TIME_LIMIT", "60")
    get_settings.cache_clear()
    task = _running_task(db, tenant)
    claim = SimpleNamespace(task_id=task.id, token="token-1")
    first = _lease(db, task.id)

    keeper = jobs._LeaseKeeper(claim, tenant.id)  # type: ignore[arg-type]
    with keeper:
        keeper.thread.join(timeout=2.5)  # one beat happens within the limit
        assert keeper.thread.is_alive()
    renewed = _lease(db, task.id)
    assert renewed > first  # type: ignore[operator]

    clock = itertools.chain([0.0], itertools.repeat(61.0))  # the run is now past its limit
    monkeypatch.setattr(jobs, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    late = jobs._LeaseKeeper(claim, tenant.id)  # type: ignore[arg-type]
    late.__enter__()
    late.thread.join(timeout=5)
    assert not late.thread.is_alive(), "past the limit the heartbeat stops by itself"
    assert _lease(db, task.id) == renewed, "and the lease is left to lapse"

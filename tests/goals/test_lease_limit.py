"""The lease heartbeat: every running card's lease is renewed until the run's time
limit, whatever the pool; past it, the lease is left to lapse.

Celery's threads pool enforces neither ``time_limit`` nor ``soft_time_limit``, so a
run that hangs would hold its task forever if the heartbeat kept renewing the lease.
"""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_planned_goal, plan_of
from web4os.config import get_settings
from web4os.db import utcnow
from web4os.goals import execution, leases
from web4os.goals.models import Task, TaskStatus


def _running_tasks(db: Session, tenant: Tenant) -> list[Task]:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []),
                                                 ("b", "researcher", [])))
    tasks = list(db.scalars(select(Task).where(Task.goal_id == goal.id).order_by(Task.key)))
    for task in tasks:
        task.status, task.claim_token = TaskStatus.RUNNING, f"token-{task.key}"
        task.lease_expires_at = utcnow() + timedelta(seconds=1)
    db.commit()
    return tasks


def _lease(db: Session, task_id: int) -> object:
    db.rollback()
    return db.scalars(select(Task.lease_expires_at).where(Task.id == task_id)).one()


def _claim(task: Task, token: str | None = None) -> execution.Claim:
    return SimpleNamespace(task_id=task.id, token=token or task.claim_token)  # type: ignore[return-value]


def test_a_beat_renews_every_held_run_and_only_while_it_is_held(
        db: Session, tenant: Tenant) -> None:
    a, b = _running_tasks(db, tenant)
    first_a, first_b = _lease(db, a.id), _lease(db, b.id)
    beats = leases.LeaseHeartbeat()
    with beats.hold(_claim(a), tenant.id), beats.hold(_claim(b), tenant.id):
        assert beats.running() == 2
        beats.beat()
    assert _lease(db, a.id) > first_a  # type: ignore[operator]
    assert _lease(db, b.id) > first_b  # type: ignore[operator]
    renewed = _lease(db, a.id)
    assert beats.running() == 0
    beats.beat()  # both runs ended: nothing is renewed any more
    assert _lease(db, a.id) == renewed


def test_a_stale_claim_is_not_renewed(db: Session, tenant: Tenant) -> None:
    a, _ = _running_tasks(db, tenant)
    first = _lease(db, a.id)
    beats = leases.LeaseHeartbeat()
    with beats.hold(_claim(a, token="an-older-attempt"), tenant.id):
        beats.beat()
    assert _lease(db, a.id) == first, "only the attempt that holds the card renews it"


def test_past_the_time_limit_the_lease_is_left_to_lapse(
        db: Session, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_TASK_SOFT_TIME_LIMIT", "60")
    get_settings.cache_clear()
    a, _ = _running_tasks(db, tenant)
    beats = leases.LeaseHeartbeat()
    clock = [0.0]
    monkeypatch.setattr(leases, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    with beats.hold(_claim(a), tenant.id):
        clock[0] = 59.0
        beats.beat()
        renewed = _lease(db, a.id)
        clock[0] = 61.0  # the run is now past its limit
        beats.beat()
        assert beats.running() == 0, "a run past the limit is dropped"
        assert _lease(db, a.id) == renewed, "and its lease is left to lapse"


def test_the_heartbeat_thread_renews_a_run_by_itself(
        db: Session, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_TASK_LEASE_SECONDS", "5")  # a beat every 5/3 s
    get_settings.cache_clear()
    a, _ = _running_tasks(db, tenant)
    first = _lease(db, a.id)
    beats = leases.LeaseHeartbeat()
    with beats.hold(_claim(a), tenant.id):
        deadline = utcnow() + timedelta(seconds=5)
        while _lease(db, a.id) == first and utcnow() < deadline:
            time.sleep(0.2)
    assert _lease(db, a.id) > first  # type: ignore[operator]

"""Embedded mode: work orphaned by a stopped server is picked up again at start-up."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_planned_goal, plan_of
from web4os.credits.service import Refs, reserve
from web4os.db import utcnow
from web4os.goals.models import Goal, GoalStatus, Task, TaskEvent, TaskStatus
from web4os.goals.work import attempt_key
from web4os.workers.embedded import EmbeddedRunner
from web4os.workers.jobs import recover_after_restart, sweep


def test_running_and_queued_work_resumes_after_a_restart(
    db: Session, runner: EmbeddedRunner, tenant: Tenant
) -> None:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []), ("b", "writer", []),
                                                 ("c", "analyst", ["a", "b"])))
    tasks = {t.key: t for t in db.scalars(select(Task).where(Task.goal_id == goal.id)).unique()}
    # "a" was running in the old process (attempt 1, reserved, lease still in the future);
    # "b" was queued but its in-memory job died with the process.
    for key, status, attempts in (("a", TaskStatus.RUNNING, 1), ("b", TaskStatus.QUEUED, 0)):
        task = tasks[key]
        reserve(db, tenant.id, attempt_key(task.id, attempts or 1), task.estimated_credits,
                refs=Refs(goal_id=goal.id, task_id=task.id), reason="test")
        task.status, task.attempts = status, attempts
        task.queued_at = utcnow()
        task.claim_token = "old-process" if key == "a" else None
        task.lease_expires_at = utcnow() + timedelta(minutes=5) if key == "a" else None
    db.commit()

    recover_after_restart()
    sweep()
    for _ in range(20):
        runner.wait_idle(timeout=10)
        db.rollback()
        if db.get(Goal, goal.id).status == GoalStatus.COMPLETED:  # type: ignore[union-attr]
            break
    g = db.get(Goal, goal.id)
    assert g is not None and g.status == GoalStatus.COMPLETED
    a = db.get(Task, tasks["a"].id)
    assert a is not None and a.attempts == 2  # the orphaned attempt was replaced, not resumed
    messages = [e.message for e in db.scalars(select(TaskEvent).where(TaskEvent.task_id == a.id))]
    assert any("stopped responding" in m for m in messages)

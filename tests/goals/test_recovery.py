"""Work a crash left behind: orphaned by a stopped server (picked up again at start-up),
or a card cancelled while its worker ran (its hold comes back if the worker never finishes)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.factories import HeldQueue, Tenant, make_planned_goal, plan_of
from web4os.agents.prompts import Deliverable
from web4os.agents.providers.base import ModelReply
from web4os.agents.structured import CallRecord
from web4os.config import get_settings
from web4os.credits import service as credits
from web4os.credits.service import Refs, reserve
from web4os.db import utcnow
from web4os.goals import actions, execution
from web4os.goals.models import Goal, GoalStatus, Task, TaskEvent, TaskStatus
from web4os.goals.recovery import recover_after_restart, sweep
from web4os.goals.scheduling import attempt_key, queue_task
from web4os.workers import registry
from web4os.workers.embedded import EmbeddedRunner


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


def _running_card_cancelled(db: Session, tenant: Tenant) -> tuple[Task, execution.Claim]:
    """A card whose worker is running it (its 2 credits held) when the operator cancels it."""
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []), credits=2))
    task = db.scalars(select(Task).where(Task.goal_id == goal.id)).unique().one()
    assert queue_task(db, task, actor="test", reason="go")
    db.commit()
    task_id = task.id
    claim = execution._claim(task_id, tenant.id)
    assert claim is not None
    db.rollback()  # see the card as the worker left it: running
    actions.cancel(db, tenant.ctx(), task_id)
    db.commit()
    assert credits.balance(db, tenant.id) == 998  # still held: the worker may finish
    return task, claim


def _sweep_after_the_time_limit(db: Session, task: Task, held_queue: HeldQueue) -> None:
    settings = get_settings()  # time passes: the lease and the run's time limit run out
    gone = timedelta(seconds=settings.task_lease_seconds + settings.task_soft_time_limit + 1)
    db.rollback()
    lease = db.scalar(select(Task.lease_expires_at).where(Task.id == task.id))
    db.execute(update(Task).where(Task.id == task.id)
               .values(lease_expires_at=None if lease is None else lease - gone))
    db.commit()
    held_queue.jobs.clear()
    sweep()
    for name, kwargs in list(held_queue.jobs):
        registry.run_job(name, kwargs)
    db.rollback()


def test_a_card_cancelled_while_its_worker_crashed_gets_its_hold_back(
    db: Session, tenant: Tenant, held_queue: HeldQueue,
) -> None:
    task, _ = _running_card_cancelled(db, tenant)  # ... and the worker never finishes
    _sweep_after_the_time_limit(db, task, held_queue)
    assert ("recover_task", {"task_id": task.id, "account_id": tenant.id}) in held_queue.jobs
    assert "resume_account" in held_queue.names()  # a goal its cap paused may go on
    assert credits.balance(db, tenant.id) == 1000
    assert credits.ledger_sum(db, tenant.id) == 1000
    cancelled = db.get(Task, task.id)
    assert cancelled is not None and cancelled.status == TaskStatus.CANCELLED
    assert cancelled.lease_expires_at is None
    held_queue.jobs.clear()
    sweep()  # found once, not on every sweep
    assert "recover_task" not in held_queue.names()


def test_a_card_cancelled_while_running_pays_for_what_its_worker_used_and_no_more(
    db: Session, tenant: Tenant, held_queue: HeldQueue,
) -> None:
    task, claim = _running_card_cancelled(db, tenant)
    reply = ModelReply(content="{}", model="web4os-offline-1", prompt_tokens=10,
                       completion_tokens=0, latency_ms=1, offline=True)
    execution._finish(claim, tenant.id, [CallRecord("task", "researcher", reply, 1)],
                 execution.Outcome(deliverable=Deliverable(deliverable="Late.", note="")))
    db.rollback()
    assert credits.balance(db, tenant.id) == 999  # the late result paid its 1 credit
    _sweep_after_the_time_limit(db, task, held_queue)
    assert credits.balance(db, tenant.id) == 999  # nothing more moves
    assert credits.ledger_sum(db, tenant.id) == 999

"""A finished attempt recorded again (a redelivered finish) adds nothing: no second charge,
no second set of model-call events, no "late result" note for a result already taken."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import HeldQueue, Tenant, make_planned_goal, plan_of
from web4os.agents.prompts import Deliverable, Review
from web4os.agents.providers.base import ModelError, ModelReply
from web4os.agents.structured import CallRecord
from web4os.credits import service as credits
from web4os.goals import actions, execution
from web4os.goals.models import Task, TaskEvent, TaskStatus
from web4os.goals.scheduling import queue_task

CALLS = [CallRecord("task", "researcher",
                    ModelReply(content="{}", model="web4os-offline-1", prompt_tokens=900,
                               completion_tokens=0, latency_ms=1, offline=True), 1),
         CallRecord("review", "ceo",
                    ModelReply(content="{}", model="web4os-offline-1", prompt_tokens=100,
                               completion_tokens=0, latency_ms=1, offline=True), 1)]
ACCEPTED = execution.Outcome(deliverable=Deliverable(deliverable="The work.", note="ok"),
                             review=Review(verdict="accept"))
BUSY = execution.Outcome(error=ModelError("The model endpoint answered 503: busy",
                                          retryable=True, status=503))


def _running(db: Session, tenant: Tenant) -> tuple[Task, execution.Claim]:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []), ("b", "writer", []),
                                                 credits=4))
    task = db.scalars(select(Task).where(Task.goal_id == goal.id, Task.key == "a")).unique().one()
    assert queue_task(db, task, actor="test", reason="go")
    db.commit()
    claim = execution._claim(task.id, tenant.id)
    assert claim is not None
    return task, claim


def _kinds(db: Session, task_id: int) -> Counter[str]:
    db.rollback()
    return Counter(db.scalars(select(TaskEvent.kind).where(TaskEvent.task_id == task_id)))


@pytest.mark.parametrize("how", ["accepted", "retried after a model error",
                                 "cancelled while it ran"])
def test_a_redelivered_finish_records_nothing_twice(
    db: Session, tenant: Tenant, held_queue: HeldQueue, how: str,
) -> None:
    task, claim = _running(db, tenant)
    if how == "cancelled while it ran":
        db.rollback()  # a fresh transaction after the claim (SQLite: no stale snapshot)
        actions.cancel(db, tenant.ctx(), task.id)
        db.commit()
    outcome = BUSY if how.startswith("retried") else ACCEPTED
    execution._finish(claim, tenant.id, CALLS, outcome)
    first = _kinds(db, task.id)
    assert first["model_call"] == 2
    balance = credits.balance(db, tenant.id)
    spent = db.get(Task, task.id).actual_credits  # type: ignore[union-attr]
    assert spent == 2

    for _ in range(3):  # redeliveries of the same attempt's finish
        execution._finish(claim, tenant.id, CALLS, outcome)

    assert _kinds(db, task.id) == first
    assert credits.balance(db, tenant.id) == balance
    again = db.get(Task, task.id)
    assert again is not None and again.actual_credits == spent
    assert again.finished_attempt == claim.attempt
    if how == "cancelled while it ran":
        assert first["discarded"] == 1 and again.status == TaskStatus.CANCELLED

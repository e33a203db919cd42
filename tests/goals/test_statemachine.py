"""The task state machine: every legal transition works, every illegal one is refused."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_planned_goal, plan_of
from web4os.goals.models import Task, TaskEvent, TaskStatus
from web4os.goals.statemachine import (
    TRANSITIONS,
    IllegalTransition,
    StaleTransition,
    can_transition,
    transition,
)

ALL = list(TaskStatus)
PAIRS = list(itertools.product(ALL, ALL))


def _task_in(db: Session, tenant: Tenant, status: TaskStatus) -> Task:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", [])))
    task = db.scalars(select(Task).where(Task.goal_id == goal.id)).unique().one()
    task.status = status
    db.flush()
    return task


def test_the_machine_has_the_documented_shape() -> None:
    assert can_transition(TaskStatus.PLANNED, TaskStatus.QUEUED)
    assert can_transition(TaskStatus.QUEUED, TaskStatus.RUNNING)
    assert can_transition(TaskStatus.RUNNING, TaskStatus.NEEDS_REVIEW)
    assert can_transition(TaskStatus.NEEDS_REVIEW, TaskStatus.DONE)
    assert TRANSITIONS[TaskStatus.DONE] == frozenset()
    assert TRANSITIONS[TaskStatus.CANCELLED] == frozenset()
    assert not can_transition(TaskStatus.PLANNED, TaskStatus.DONE)
    assert not can_transition(TaskStatus.QUEUED, TaskStatus.NEEDS_REVIEW)


@pytest.mark.parametrize(("src", "dst"), PAIRS, ids=[f"{a.value}->{b.value}" for a, b in PAIRS])
def test_every_pair(db: Session, tenant: Tenant, src: TaskStatus, dst: TaskStatus) -> None:
    task = _task_in(db, tenant, src)
    before = db.scalar(select(TaskEvent.id).where(TaskEvent.task_id == task.id,
                                                  TaskEvent.kind == "status").limit(1))
    assert before is None
    if dst in TRANSITIONS[src]:
        transition(db, task, dst, actor="test", reason="why")
        db.expire_all()
        row = db.get(Task, task.id)
        assert row is not None and row.status == dst
        event = db.scalars(select(TaskEvent).where(TaskEvent.task_id == task.id)).one()
        assert (event.from_status, event.to_status, event.actor, event.message) == (
            src.value, dst.value, "test", "why")
    else:
        with pytest.raises(IllegalTransition):
            transition(db, task, dst, actor="test")
        db.expire_all()
        row = db.get(Task, task.id)
        assert row is not None and row.status == src
        assert db.scalars(select(TaskEvent).where(TaskEvent.task_id == task.id)).first() is None
    db.rollback()


def test_a_stale_transition_changes_nothing(db: Session, tenant: Tenant) -> None:
    task = _task_in(db, tenant, TaskStatus.QUEUED)
    db.commit()
    transition(db, task, TaskStatus.RUNNING, actor="worker-1")
    db.commit()
    # A second worker still believes the task is queued: its claim must fail.
    with pytest.raises(StaleTransition):
        transition(db, task, TaskStatus.RUNNING, actor="worker-2", expect=TaskStatus.QUEUED)
    db.rollback()
    events = db.scalars(select(TaskEvent).where(TaskEvent.task_id == task.id)).all()
    assert [e.actor for e in events] == ["worker-1"]


def test_claim_token_guards_the_running_attempt(db: Session, tenant: Tenant) -> None:
    task = _task_in(db, tenant, TaskStatus.RUNNING)
    task.claim_token = "mine"
    db.commit()
    with pytest.raises(StaleTransition):
        transition(db, task, TaskStatus.NEEDS_REVIEW, actor="w", claim_token="someone-else")
    db.rollback()
    transition(db, task, TaskStatus.NEEDS_REVIEW, actor="w", claim_token="mine")
    db.commit()
    assert task.status == TaskStatus.NEEDS_REVIEW

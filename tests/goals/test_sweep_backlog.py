"""The sweeper re-sends lost queued work, but never piles duplicates onto a backlog."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_planned_goal, plan_of
from web4os.db import utcnow
from web4os.goals.models import Task, TaskStatus
from web4os.goals.recovery import sweep
from web4os.queue import set_queue


class RecordingQueue:
    """A queue that only records what is sent, and says how many messages wait."""

    def __init__(self, waiting: int) -> None:
        self.waiting = waiting
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def submit(self, name: str, kwargs: dict[str, Any], countdown: float = 0.0) -> None:
        self.sent.append((name, kwargs))

    def backlog(self) -> int:
        return self.waiting


@pytest.fixture
def queue() -> Iterator[RecordingQueue]:
    q = RecordingQueue(waiting=0)
    set_queue(q)
    yield q
    set_queue(None)


def test_lost_queued_task_is_resent_once_the_queue_is_drained(
        db: Session, tenant: Tenant, queue: RecordingQueue) -> None:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", [])))
    task = db.scalars(select(Task).where(Task.goal_id == goal.id)).one()
    task.status, task.queued_at = TaskStatus.QUEUED, utcnow() - timedelta(hours=1)
    db.commit()
    resend = ("run_task", {"task_id": task.id, "account_id": tenant.id})

    queue.waiting = 250  # a backlog: the task's message may simply be behind those
    sweep()
    assert resend not in queue.sent

    queue.waiting = 0  # nothing waits, so the message was lost: send it again
    sweep()
    assert queue.sent.count(resend) == 1

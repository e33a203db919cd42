"""A finished card starts the cards it unblocked in its own transaction (no extra job),
and two siblings finishing at the same moment never both miss their common dependent.

Runs on SQLite and, in CI's second pass, on Postgres, where the two finishing
transactions really overlap (READ COMMITTED): the row locks ``_finish`` takes
(account, then goal) make the second one wait and then see the first one's card done.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import HeldQueue, Tenant, make_planned_goal, plan_of
from web4os.agents.brain import Deliverable, Review
from web4os.agents.providers.base import ModelReply
from web4os.agents.structured import CallRecord
from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus
from web4os.goals.work import queue_task
from web4os.workers import jobs

ACCEPTED = jobs.Outcome(deliverable=Deliverable(deliverable="Result.", note="ok"),
                        review=Review(verdict="accept"))


def _calls() -> list[CallRecord]:
    reply = ModelReply(content="{}", model="web4os-offline-1", prompt_tokens=10,
                       completion_tokens=0, latency_ms=1, offline=True)
    return [CallRecord("task", "researcher", reply, 1)]


def _run(task_id: int, account_id: int) -> None:
    claim = jobs._claim(task_id, account_id)
    assert claim is not None
    jobs._finish(claim, account_id, _calls(), ACCEPTED)


def _status(db: Session, goal_id: int) -> dict[str, TaskStatus]:
    db.rollback()  # a fresh snapshot
    return {t.key: t.status for t in db.scalars(select(Task).where(Task.goal_id == goal_id))
            .unique()}


def test_a_done_card_queues_its_dependents_and_the_last_one_closes_the_goal(
    db: Session, tenant: Tenant, held_queue: HeldQueue,
) -> None:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []),
                                                 ("b", "writer", ["a"]),
                                                 ("c", "analyst", ["a"])))
    a = db.scalars(select(Task).where(Task.goal_id == goal.id, Task.key == "a")).unique().one()
    assert queue_task(db, a, actor="test", reason="go")
    db.commit()
    _run(a.id, tenant.id)
    assert _status(db, goal.id) == {"a": TaskStatus.DONE, "b": TaskStatus.QUEUED,
                                    "c": TaskStatus.QUEUED}
    assert "advance_goal" not in held_queue.names()  # no separate job, no reload of the goal
    for key in ("b", "c"):
        task = db.scalars(select(Task).where(Task.goal_id == goal.id, Task.key == key)).unique()
        _run(task.one().id, tenant.id)
    assert held_queue.names().count("finish_goal") == 1
    db.rollback()
    assert db.get(Goal, goal.id).status == GoalStatus.COMPLETING  # type: ignore[union-attr]


@pytest.mark.parametrize("round_", range(4))
def test_siblings_finishing_together_start_their_join_exactly_once(
    db: Session, tenant: Tenant, held_queue: HeldQueue, round_: int,
) -> None:
    goal = make_planned_goal(db, tenant, plan_of(("b", "writer", []), ("c", "analyst", []),
                                                 ("d", "marketer", ["b", "c"])))
    siblings = db.scalars(select(Task).where(Task.goal_id == goal.id, Task.key.in_(["b", "c"]))
                          .order_by(Task.key)).unique().all()
    for task in siblings:
        assert queue_task(db, task, actor="test", reason="go")
    db.commit()
    claims = [jobs._claim(t.id, tenant.id) for t in siblings]
    assert all(c is not None for c in claims)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def finish(claim: jobs.Claim) -> None:
        try:
            start.wait(timeout=10)
            jobs._finish(claim, tenant.id, _calls(), ACCEPTED)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=finish, args=(c,)) for c in claims if c is not None]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert _status(db, goal.id)["d"] == TaskStatus.QUEUED
    d_id = db.scalars(select(Task.id).where(Task.goal_id == goal.id, Task.key == "d")).one()
    sent = [kw["task_id"] for name, kw in held_queue.jobs if name == "run_task"]
    assert sent.count(d_id) == 1

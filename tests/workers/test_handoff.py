"""Hand-off: a job runs the first card it queues itself, next, in the same thread
(``workers.queue.handoff``); the other cards go to the queue; nothing is lost when
either fails. Runs on SQLite and, in CI's second pass, on Postgres."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import HeldQueue, Tenant, make_planned_goal, plan_of
from web4os import queue as queue_module
from web4os.goals import execution
from web4os.goals.jobs import JOBS
from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus
from web4os.goals.scheduling import queue_task
from web4os.queue import enqueue, handoff, set_queue
from web4os.workers import registry
from web4os.workers.embedded import EmbeddedRunner


def _statuses(db: Session, goal_id: int) -> dict[str, TaskStatus]:
    db.rollback()  # a fresh snapshot
    return {t.key: t.status for t in db.scalars(select(Task).where(Task.goal_id == goal_id))
            .unique()}


def _started(db: Session, tenant: Tenant, held_queue: HeldQueue,
             *specs: tuple[str, str, list[str]]) -> tuple[Goal, int]:
    """A goal of ``specs`` whose first card is queued for the test to run itself."""
    goal = make_planned_goal(db, tenant, plan_of(*specs))
    task = db.scalars(select(Task).where(Task.goal_id == goal.id, Task.key == specs[0][0])
                      ).unique().one()
    assert queue_task(db, task, actor="test", reason="go")
    db.commit()
    held_queue.jobs.clear()
    return goal, task.id


def test_the_first_card_due_now_is_kept_and_everything_else_is_sent(
    db: Session, tenant: Tenant, held_queue: HeldQueue,
) -> None:
    with handoff() as slot:
        enqueue(db, "run_task", task_id=1, account_id=tenant.id)
        enqueue(db, "run_task", task_id=2, account_id=tenant.id)
        enqueue(db, "run_task", countdown=5.0, task_id=3, account_id=tenant.id)
        enqueue(db, "advance_goal", goal_id=9, account_id=tenant.id)
        assert slot.job is None  # nothing before the commit
        db.commit()
    assert slot.job == ("run_task", {"task_id": 1, "account_id": tenant.id})
    assert held_queue.jobs == [("run_task", {"task_id": 2, "account_id": tenant.id}),
                               ("run_task", {"task_id": 3, "account_id": tenant.id}),
                               ("advance_goal", {"goal_id": 9, "account_id": tenant.id})]


def test_outside_a_job_every_card_goes_to_the_queue(
    db: Session, tenant: Tenant, held_queue: HeldQueue,
) -> None:
    enqueue(db, "run_task", task_id=1, account_id=tenant.id)
    db.commit()
    assert held_queue.names() == ["run_task"]


def test_a_kept_card_goes_to_the_queue_when_the_job_fails_after_keeping_it(
    db: Session, tenant: Tenant, held_queue: HeldQueue,
) -> None:
    with pytest.raises(RuntimeError), handoff() as slot:
        enqueue(db, "run_task", task_id=1, account_id=tenant.id)
        db.commit()
        assert slot.job is not None
        raise RuntimeError("the job fails after its commit")
    assert held_queue.jobs == [("run_task", {"task_id": 1, "account_id": tenant.id})]


def test_a_chain_runs_to_the_end_in_one_job_without_the_queue(
    db: Session, tenant: Tenant, held_queue: HeldQueue,
) -> None:
    goal, a = _started(db, tenant, held_queue, ("a", "researcher", []),
                       ("b", "writer", ["a"]), ("c", "analyst", ["b"]))
    registry.run_job("run_task", {"task_id": a, "account_id": tenant.id})
    assert _statuses(db, goal.id) == {"a": TaskStatus.DONE, "b": TaskStatus.DONE,
                                      "c": TaskStatus.DONE}
    assert held_queue.names() == ["finish_goal"]  # no card went through the queue


def test_a_fan_out_keeps_one_card_and_queues_the_others(
    db: Session, tenant: Tenant, held_queue: HeldQueue,
) -> None:
    goal, a = _started(db, tenant, held_queue, ("a", "researcher", []),
                       ("b", "writer", ["a"]), ("c", "analyst", ["a"]), ("d", "marketer", ["a"]))
    registry.run_job("run_task", {"task_id": a, "account_id": tenant.id})
    statuses = _statuses(db, goal.id)
    assert statuses["a"] == TaskStatus.DONE
    assert sorted(statuses[k] for k in "bcd") == sorted(
        [TaskStatus.DONE, TaskStatus.QUEUED, TaskStatus.QUEUED])
    queued = {t.id for t in db.scalars(select(Task).where(
        Task.goal_id == goal.id, Task.status == TaskStatus.QUEUED)).unique()}
    assert held_queue.names() == ["run_task", "run_task"]
    assert {kw["task_id"] for _, kw in held_queue.jobs} == queued


def test_a_handed_off_card_that_fails_is_sent_to_the_queue(
    db: Session, tenant: Tenant, held_queue: HeldQueue, monkeypatch: pytest.MonkeyPatch,
) -> None:
    goal, a = _started(db, tenant, held_queue, ("a", "researcher", []), ("b", "writer", ["a"]))
    b = db.scalars(select(Task).where(Task.goal_id == goal.id, Task.key == "b")).unique().one()
    claim = execution._claim

    def flaky_claim(task_id: int, account_id: int) -> execution.Claim | None:
        if task_id == b.id:
            raise OSError("the database went away for a moment")
        return claim(task_id, account_id)

    monkeypatch.setattr(execution, "_claim", flaky_claim)
    registry.run_job("run_task", {"task_id": a, "account_id": tenant.id})  # does not raise: a is done
    assert _statuses(db, goal.id) == {"a": TaskStatus.DONE, "b": TaskStatus.QUEUED}
    assert held_queue.jobs == [("run_task", {"task_id": b.id, "account_id": tenant.id})]
    monkeypatch.setattr(execution, "_claim", claim)
    registry.run_job(*held_queue.jobs[0])  # the queue's own run of it
    assert _statuses(db, goal.id)["b"] == TaskStatus.DONE
    assert db.get(Goal, goal.id).status == GoalStatus.COMPLETING  # type: ignore[union-attr]


class _BusyQueue(HeldQueue):
    """A queue with work waiting: no job may keep a card for itself."""

    def takes_handoffs(self) -> bool:
        return False


def test_no_card_is_kept_while_other_work_waits(db: Session, tenant: Tenant) -> None:
    busy = _BusyQueue()
    set_queue(busy)
    try:
        with handoff() as slot:
            enqueue(db, "run_task", task_id=1, account_id=tenant.id)
            db.commit()
    finally:
        set_queue(None)
    assert slot.job is None
    assert busy.names() == ["run_task"]


def test_a_chain_hands_its_next_card_to_the_queue_after_its_time(
    db: Session, tenant: Tenant, held_queue: HeldQueue, monkeypatch: pytest.MonkeyPatch,
) -> None:
    goal, a = _started(db, tenant, held_queue, ("a", "researcher", []), ("b", "writer", ["a"]))
    monkeypatch.setattr(queue_module, "HANDOFF_SECONDS", 0.0)
    registry.run_job("run_task", {"task_id": a, "account_id": tenant.id})
    assert _statuses(db, goal.id) == {"a": TaskStatus.DONE, "b": TaskStatus.QUEUED}
    assert held_queue.names() == ["run_task"]


def test_the_embedded_runner_takes_hand_offs_only_when_idle_and_open() -> None:
    runner = EmbeddedRunner(workers=1)
    try:
        assert runner.takes_handoffs()
        gate = threading.Event()
        def block(**_: object) -> None:
            gate.wait(5)

        JOBS["_test_block"] = block
        try:
            runner.submit("_test_block", {"account_id": 1})
            runner.submit("_test_block", {"account_id": 1})  # waits behind the first
            assert not runner.takes_handoffs()
            gate.set()
            assert runner.wait_idle(5)
            assert runner.takes_handoffs()
        finally:
            del JOBS["_test_block"]
    finally:
        runner.shutdown(wait=True)
    assert not runner.takes_handoffs()  # closed

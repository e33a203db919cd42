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
from web4os.agents.prompts import Deliverable, Review
from web4os.agents.providers.base import ModelReply
from web4os.agents.structured import CallRecord
from web4os.credits import service as credits
from web4os.credits.models import CreditLedgerEntry, EntryKind
from web4os.goals import execution, scheduling
from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus
from web4os.goals.scheduling import OUT_OF_CREDITS, queue_task
from web4os.goals.service import task_events

ACCEPTED = execution.Outcome(deliverable=Deliverable(deliverable="Result.", note="ok"),
                        review=Review(verdict="accept"))


def _calls() -> list[CallRecord]:
    reply = ModelReply(content="{}", model="web4os-offline-1", prompt_tokens=10,
                       completion_tokens=0, latency_ms=1, offline=True)
    return [CallRecord("task", "researcher", reply, 1)]


def _run(task_id: int, account_id: int) -> None:
    claim = execution._claim(task_id, account_id)
    assert claim is not None
    execution._finish(claim, account_id, _calls(), ACCEPTED)


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
    claims = [execution._claim(t.id, tenant.id) for t in siblings]
    assert all(c is not None for c in claims)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def finish(claim: execution.Claim) -> None:
        try:
            start.wait(timeout=10)
            execution._finish(claim, tenant.id, _calls(), ACCEPTED)
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


def _fan_out(db: Session, tenant: Tenant) -> tuple[Goal, Task]:
    """``a`` unblocks ``b``, ``c`` and ``d`` (2 credits each); ``a`` is queued."""
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []),
                                                 ("b", "writer", ["a"]),
                                                 ("c", "analyst", ["a"]),
                                                 ("d", "marketer", ["a"])))
    a = db.scalars(select(Task).where(Task.goal_id == goal.id, Task.key == "a")).unique().one()
    assert queue_task(db, a, actor="test", reason="go")
    db.commit()
    return goal, a


def _holds(db: Session, goal_id: int) -> dict[str, list[int]]:
    db.rollback()
    rows = db.execute(select(Task.key, CreditLedgerEntry.amount, CreditLedgerEntry.balance_after)
                      .join(Task, Task.id == CreditLedgerEntry.task_id)
                      .where(CreditLedgerEntry.goal_id == goal_id,
                             CreditLedgerEntry.kind == EntryKind.RESERVATION)
                      .order_by(CreditLedgerEntry.id)).all()
    out: dict[str, list[int]] = {}
    for key, amount, after in rows:
        out.setdefault(key, []).extend([amount, after])
    return out


def test_unblocked_cards_are_queued_together_each_with_its_own_hold_and_history(
    db: Session, tenant: Tenant, held_queue: HeldQueue,
) -> None:
    goal, a = _fan_out(db, tenant)
    _run(a.id, tenant.id)
    assert _status(db, goal.id) == {"a": TaskStatus.DONE, "b": TaskStatus.QUEUED,
                                    "c": TaskStatus.QUEUED, "d": TaskStatus.QUEUED}
    # a held 2 (998), was charged 1 (999); then one hold per card, in order, with the
    # balance each entry left: the ledger reads like three separate reservations.
    assert _holds(db, goal.id) == {"a": [-2, 998], "b": [-2, 997], "c": [-2, 995],
                                   "d": [-2, 993]}
    assert credits.balance(db, tenant.id) == 993
    for key in ("b", "c", "d"):
        task = db.scalars(select(Task).where(Task.goal_id == goal.id, Task.key == key)).unique()
        one = task.one()
        history = [(e.kind, e.from_status, e.to_status) for e in task_events(db, tenant.id,
                                                                             one.id)]
        assert history == [("status", "planned", "queued")]
        assert one.queued_at is not None and one.status_reason == scheduling.READY
    sent = [kw["task_id"] for name, kw in held_queue.jobs if name == "run_task"]
    assert len(sent) == len(set(sent)) == 4  # a, then b, c and d once each


def test_when_the_account_cannot_pay_them_all_the_cards_it_can_pay_start_and_the_rest_wait(
    db: Session, tenant: Tenant, held_queue: HeldQueue,
) -> None:
    goal, a = _fan_out(db, tenant)
    credits.adjust(db, tenant.id, -995, actor="test", reason="leave 3 after a's hold")
    db.commit()
    _run(a.id, tenant.id)  # a costs 1 of its 2: 4 left, enough for two cards of three
    status = _status(db, goal.id)
    assert sorted(status.values()) == sorted([TaskStatus.DONE, TaskStatus.QUEUED,
                                              TaskStatus.QUEUED, TaskStatus.BLOCKED])
    blocked = db.scalars(select(Task).where(Task.goal_id == goal.id,
                                            Task.status == TaskStatus.BLOCKED)).unique().one()
    assert blocked.status_reason == OUT_OF_CREDITS
    assert credits.balance(db, tenant.id) == 0


def test_two_workers_queuing_the_same_cards_hold_credits_for_each_card_once(
    db: Session, tenant: Tenant, held_queue: HeldQueue,
) -> None:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []),
                                                 ("b", "writer", []), ("c", "analyst", [])))
    goal_id, account_id = goal.id, tenant.id
    db.commit()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def advance() -> None:
        try:
            start.wait(timeout=10)
            scheduling.advance_goal(goal_id, account_id=account_id)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=advance) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert set(_status(db, goal.id).values()) == {TaskStatus.QUEUED}
    assert {key: len(v) // 2 for key, v in _holds(db, goal.id).items()} == {"a": 1, "b": 1,
                                                                           "c": 1}
    sent = [kw["task_id"] for name, kw in held_queue.jobs if name == "run_task"]
    assert len(sent) == len(set(sent)) == 3

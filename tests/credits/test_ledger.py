"""The ledger under concurrency and redelivery: never overdrawn, never charged twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, literal, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.conftest import TEST_DB_URL
from tests.factories import HeldQueue, Tenant, make_planned_goal, make_tenant, plan_of
from web4os.agents.prompts import Deliverable, Review
from web4os.agents.providers.base import ModelError, ModelReply
from web4os.agents.structured import CallRecord
from web4os.credits import service as credits
from web4os.credits.models import CreditLedgerEntry, EntryKind
from web4os.credits.service import NO_REFS
from web4os.db import session_factory
from web4os.goals import execution
from web4os.goals.models import Task, TaskStatus
from web4os.goals.scheduling import attempt_key, queue_task
from web4os.tenancy import AccountId, bind_account


def _connected(factory: Callable[[], Session], account_id: AccountId) -> Session:
    """A session holding its own connection (retried: the shared test server may be busy)."""
    for attempt in range(60):
        s = factory()
        bind_account(s, account_id)
        try:
            s.connection()
            s.rollback()
            return s
        except OperationalError:
            s.close()
            time.sleep(0.5 + attempt * 0.1)
    raise AssertionError("could not connect to the test database")


def _in_threads(n: int, account_id: AccountId,
                fn: Callable[[Session, int], object]) -> tuple[list[object], list[BaseException]]:
    """Run ``fn(session, i)`` in ``n`` threads, each with its own connected session,
    all released together once every one is connected; results and errors."""
    factory = session_factory(TEST_DB_URL)
    gate = threading.Barrier(n)
    results: list[object] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            with _connected(factory, account_id) as s:
                gate.wait(timeout=90)
                results[i] = fn(s, i)
                s.commit()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    return results, errors


def _entries(db: Session, account_id: AccountId, kind: EntryKind) -> int:
    db.rollback()
    return int(db.scalar(select(func.count()).select_from(CreditLedgerEntry).where(
        CreditLedgerEntry.account_id == account_id, CreditLedgerEntry.kind == kind)) or 0)


def test_fifty_concurrent_reservations_at_ten_credits(db: Session) -> None:
    """Each thread has its own session (Postgres: its own connection and row lock)."""
    tenant = make_tenant(db, "Ten Credits", credits=10)
    db.commit()
    aid = tenant.id

    def reserve_one(s: Session, i: int) -> bool:
        return credits.reserve(s, aid, f"burst:{i}", 1, refs=NO_REFS, reason="burst")

    results, errors = _in_threads(50, aid, reserve_one)
    assert errors == []
    assert results.count(True) == 10
    assert results.count(False) == 40
    db.rollback()
    assert credits.balance(db, aid) == 0
    assert credits.ledger_sum(db, aid) == 0 == credits.balance(db, aid)
    assert _entries(db, aid, EntryKind.RESERVATION) == 10


def test_settlements_racing_reservations_never_fail_or_overdraw(db: Session) -> None:
    """Work that cost more than its hold settles while other work drains the balance."""
    tenant = make_tenant(db, "Busy", credits=30)
    db.commit()
    aid = tenant.id
    with session_factory(TEST_DB_URL)() as s:
        for i in range(10):
            assert credits.reserve(s, aid, f"held:{i}", 1, refs=NO_REFS, reason="hold")
        s.commit()  # 20 credits left

    def work(s: Session, i: int) -> int:
        if i % 2:
            return credits.settle(s, aid, f"held:{i // 2}", 5, refs=NO_REFS, reason="over")
        return 100 + int(credits.reserve(s, aid, f"new:{i}", 3, refs=NO_REFS, reason="new"))

    results, errors = _in_threads(20, aid, work)
    assert errors == []
    charged = [r for r in results if isinstance(r, int) and r < 100]
    assert len(charged) == 10 and all(1 <= c <= 5 for c in charged)
    db.rollback()
    balance = credits.balance(db, aid)
    assert balance >= 0
    assert credits.ledger_sum(db, aid) == balance
    reserved_new = sum(1 for r in results if r == 101)
    assert 30 - sum(charged) - 3 * reserved_new == balance


def test_settle_retries_when_a_reservation_drains_the_balance_meanwhile(
    db: Session, tenant: Tenant, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The race, made deterministic: settle reads a balance that is gone by its update."""
    aid = tenant.id
    credits.adjust(db, aid, -990, actor="test", reason="start at 10")
    assert credits.reserve(db, aid, "job", 2, refs=NO_REFS, reason="hold")  # 8 left
    assert credits.reserve(db, aid, "other", 8, refs=NO_REFS, reason="drain")  # 0 left
    real = credits.balance
    stale = iter([8])
    monkeypatch.setattr(credits, "balance",
                        lambda s, a: next(stale, None) or real(s, a))
    charged = credits.settle(db, aid, "job", 5, refs=NO_REFS, reason="cost more than held")
    assert charged == 2  # what was held; the extra 3 could not be taken
    assert real(db, aid) == 0
    db.commit()


def test_settle_takes_the_extra_only_as_far_as_the_balance_goes(db: Session,
                                                               tenant: Tenant) -> None:
    aid = tenant.id
    credits.adjust(db, aid, -996, actor="test", reason="start at 4")
    assert credits.reserve(db, aid, "job", 2, refs=NO_REFS, reason="hold")
    assert credits.settle(db, aid, "job", 9, refs=NO_REFS, reason="costly") == 4
    assert credits.balance(db, aid) == 0
    assert credits.settle(db, aid, "job", 9, refs=NO_REFS, reason="again") == 0
    db.commit()


def test_a_settlement_given_the_hold_charges_once_and_reads_it_right(
        db: Session, tenant: Tenant) -> None:
    """``held`` read by the caller (``hold_amount``), as a finishing card does: the same
    charges as reading it inside ``settle``, and a repeat moves nothing."""
    aid = tenant.id
    assert credits.reserve(db, aid, "task:y:a1", 5, refs=NO_REFS, reason="hold")
    held = db.scalar(select(credits.hold_amount(literal("task:y:a1"))), {"tenant": aid})
    assert held == 5
    assert db.scalar(select(credits.hold_amount(literal("task:none:a1"))),
                     {"tenant": aid}) is None
    results = [credits.settle(db, aid, "task:y:a1", 3, refs=NO_REFS, reason="done", held=held)
               for _ in range(3)]
    db.commit()
    assert results == [3, 0, 0]
    assert credits.balance(db, aid) == 997
    assert _entries(db, aid, EntryKind.SETTLEMENT) == 1


def test_a_settlement_given_the_hold_on_a_drained_account_and_after_a_release(
        db: Session, tenant: Tenant) -> None:
    aid = tenant.id
    credits.adjust(db, aid, -990, actor="test", reason="start at 10")
    assert credits.reserve(db, aid, "job", 2, refs=NO_REFS, reason="hold")
    assert credits.reserve(db, aid, "other", 8, refs=NO_REFS, reason="drain")  # 0 left
    assert credits.settle(db, aid, "job", 5, refs=NO_REFS, reason="costly", held=2) == 2
    assert credits.settle(db, aid, "job", 5, refs=NO_REFS, reason="again", held=2) == 0
    assert credits.balance(db, aid) == 0
    credits.release(db, aid, "other", refs=NO_REFS, reason="released")  # 8 back
    assert credits.settle(db, aid, "other", 3, refs=NO_REFS, reason="late", held=8) == 0
    assert credits.balance(db, aid) == 8
    assert credits.settle(db, aid, "none", 0, refs=NO_REFS, reason="no hold", held=0) == 0
    assert credits.balance(db, aid) == 8
    db.commit()


def test_settlement_redelivered_three_times_charges_once(db: Session, tenant: Tenant) -> None:
    aid = tenant.id
    assert credits.reserve(db, aid, "task:x:a1", 5, refs=NO_REFS, reason="hold")
    results = [credits.settle(db, aid, "task:x:a1", 3, refs=NO_REFS, reason="done")
               for _ in range(4)]
    db.commit()
    assert results == [3, 0, 0, 0]
    assert credits.balance(db, aid) == 997
    assert _entries(db, aid, EntryKind.SETTLEMENT) == 1


def _reply(tokens: int) -> ModelReply:
    return ModelReply(content="{}", model="web4os-offline-1", prompt_tokens=tokens,
                      completion_tokens=0, latency_ms=1, offline=True)


def test_finished_task_redelivered_three_times_is_charged_once(
    db: Session, tenant: Tenant, held_queue: HeldQueue,
) -> None:
    """The worker's real paths: run_task redelivered, and _finish itself redelivered."""
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []), credits=4))
    task = db.scalars(select(Task).where(Task.goal_id == goal.id)).unique().one()
    assert queue_task(db, task, actor="test", reason="go")
    db.commit()
    claim = execution._claim(task.id, tenant.id)
    assert claim is not None
    calls = [CallRecord("task", "researcher", _reply(2500), 3),
             CallRecord("review", "ceo", _reply(500), 1)]
    outcome = execution.Outcome(deliverable=Deliverable(deliverable="The work.", note="ok"),
                           review=Review(verdict="accept"))
    for _ in range(4):  # the first delivery and three redeliveries
        execution._finish(claim, tenant.id, calls, outcome)
        execution.run_task(task.id, account_id=tenant.id)  # a redelivered message: no claim
    # The one follow-up (its last card done, the goal closes) is sent exactly once.
    assert [name for name, _ in held_queue.jobs if name != "run_task"] == ["finish_goal"]
    db.rollback()
    key = attempt_key(task.id, claim.attempt)
    settlements = db.scalars(select(CreditLedgerEntry).where(
        CreditLedgerEntry.idempotency_key == f"{key}:settle")).all()
    assert len(settlements) == 1
    cost = 4 + getattr(claim, "tool_credits", 0)  # model calls + any tool runs
    assert credits.balance(db, tenant.id) == 1000 - cost
    done = db.get(Task, task.id)
    assert done is not None and done.status == TaskStatus.DONE
    assert done.actual_credits == cost
    assert done.goal.credits_spent == cost


def test_a_movement_repeated_with_its_key_moves_nothing_even_when_the_balance_is_short(
    db: Session, tenant: Tenant,
) -> None:
    """The key is checked by the insert itself (no savepoint): a repeat puts the balance
    back in the same transaction, and a repeat the balance could no longer pay is still
    recognised as a repeat rather than refused."""
    aid = tenant.id
    assert credits.reserve(db, aid, "task:y:a1", 600, refs=NO_REFS, reason="hold")
    assert credits.reserve(db, aid, "task:y:a1", 600, refs=NO_REFS, reason="again")  # 400 left
    assert credits.reserve(db, aid, "task:y:a1", 300, refs=NO_REFS, reason="smaller repeat")
    db.commit()
    assert credits.balance(db, aid) == 400
    assert _entries(db, aid, EntryKind.RESERVATION) == 1
    assert credits.grant(db, aid, 5, actor="test", reason="a", key="pay-1") is not None
    assert credits.grant(db, aid, 5, actor="test", reason="b", key="pay-1") is None
    db.commit()
    assert credits.balance(db, aid) == 405


def _running_with_nothing_but_its_hold(db: Session, tenant: Tenant) -> tuple[Task, execution.Claim]:
    """A card (2 credits held) that a worker runs, in an account with nothing else left."""
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []), credits=2))
    task = db.scalars(select(Task).where(Task.goal_id == goal.id)).unique().one()
    assert queue_task(db, task, actor="test", reason="go")
    credits.adjust(db, tenant.id, -credits.balance(db, tenant.id), actor="test",
                   reason="nothing left after the hold")
    db.commit()
    claim = execution._claim(task.id, tenant.id)
    assert claim is not None
    return task, claim


def test_a_card_whose_extra_cost_the_balance_lost_meanwhile_records_what_was_charged(
    db: Session, tenant: Tenant, held_queue: HeldQueue, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The settlement reads the balance to take a card's extra cost; when that balance is
    gone by its guarded update, the card and the goal still show what was really charged."""
    task, claim = _running_with_nothing_but_its_hold(db, tenant)
    real = credits.balance
    stale = iter([50])  # what the first read sees; the locked update then finds 0
    monkeypatch.setattr(credits, "balance", lambda s, a: next(stale, None) or real(s, a))
    calls = [CallRecord("task", "researcher", _reply(2500), 5)]
    execution._finish(claim, tenant.id, calls,
                 execution.Outcome(deliverable=Deliverable(deliverable="Done.", note="ok"),
                              review=Review(verdict="accept")))
    db.rollback()
    done = db.get(Task, task.id)
    assert done is not None and done.status == TaskStatus.DONE
    assert done.actual_credits == 2  # what was held; the extra 3 could not be taken
    assert done.goal.credits_spent == 2
    assert real(db, tenant.id) == 0


def test_holds_taken_together_keep_only_the_claimed_work_and_give_the_rest_back(
    db: Session, tenant: Tenant,
) -> None:
    aid = tenant.id
    holds = [credits.Hold(f"batch:{n}", 10, NO_REFS, f"hold {n}") for n in range(3)]
    taken = credits.take_many(db, aid, holds)
    assert taken is not None and credits.balance(db, aid) == 970
    credits.keep_holds(db, taken, {"batch:0", "batch:2"})  # batch:1 was claimed elsewhere
    db.commit()
    assert credits.balance(db, aid) == 980
    assert credits.ledger_sum(db, aid) == 980
    rows = db.execute(select(CreditLedgerEntry.idempotency_key, CreditLedgerEntry.amount,
                             CreditLedgerEntry.balance_after)
                      .where(CreditLedgerEntry.kind == EntryKind.RESERVATION,
                             CreditLedgerEntry.account_id == aid)
                      .order_by(CreditLedgerEntry.id)).all()
    assert [tuple(r) for r in rows] == [("batch:0:reserve", -10, 990),
                                        ("batch:2:reserve", -10, 980)]
    # A key already used, or a total the balance cannot pay: nothing is taken.
    assert credits.take_many(db, aid, [credits.Hold("batch:2", 1, NO_REFS, "again")]) is None
    assert credits.take_many(db, aid, [credits.Hold("big", 981, NO_REFS, "too much")]) is None
    assert credits.balance(db, aid) == 980


@pytest.mark.parametrize("how", ["retry after a model error", "sent back by the CEO agent"])
def test_what_an_attempt_did_not_use_pays_for_the_next_one(
    db: Session, tenant: Tenant, held_queue: HeldQueue, how: str,
) -> None:
    """An account with nothing left but this card's hold: the attempt used none of it, so
    the retry (or the send-back) can hold it again and starts, instead of waiting blocked."""
    task, claim = _running_with_nothing_but_its_hold(db, tenant)
    if how.startswith("retry"):
        outcome = execution.Outcome(error=ModelError("The model timed out.", retryable=True))
    else:
        outcome = execution.Outcome(deliverable=Deliverable(deliverable="Draft.", note=""),
                               review=Review(verdict="revise", feedback="Shorter, please."))
    execution._finish(claim, tenant.id, [], outcome)
    db.rollback()
    again = db.get(Task, task.id)
    assert again is not None
    assert again.status == TaskStatus.QUEUED, again.status_reason
    assert credits.balance(db, tenant.id) == 0  # the same 2 credits, held for attempt 2
    assert credits.ledger_sum(db, tenant.id) == 0

"""Row locks on Postgres: a card finishing while the operator cancels its goal, or while
the sweeper recovers it (its lease ran out just as its worker finished).

A finishing card locks the account (its settlement), then the goal (its spend), then
cards. Cancelling a goal changes its cards and then the goal, and may give credits back
on the way; unless it also takes the account first, it can hold a card the finishing
card is about to write while waiting for the goal that card holds: a deadlock, which
Postgres breaks after a second by failing one of the two. A recovery that read the card
before the finish committed would act on a card that has moved on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from tests.conftest import IS_POSTGRES
from tests.factories import HeldQueue, Tenant, make_planned_goal, plan_of
from web4os.agents.prompts import Deliverable, Review
from web4os.db import session_factory, utcnow
from web4os.errors import Conflict
from web4os.goals import actions, execution, recovery
from web4os.goals import service as goal_service
from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus
from web4os.goals.scheduling import queue_task
from web4os.tenancy import bind_account

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="row locks: the Postgres pass")

ACCEPTED = execution.Outcome(deliverable=Deliverable(deliverable="Done.", note=""),
                        review=Review(verdict="accept"))


def _race(monkeypatch: pytest.MonkeyPatch, claim: execution.Claim, account_id: int,
          other: Callable[[], object], *, pause_in: str, after: bool = False,
          ) -> list[BaseException]:
    """Finish ``claim`` and stop it in ``<pause_in>`` (before that step, or ``after``
    it); run ``other`` meanwhile, give it time to reach its first lock, then let the
    finish go on. Returns what either raised (Postgres fails one side of a deadlock)."""
    holding, go_on = threading.Event(), threading.Event()
    where = goal_service if pause_in == "add_goal_spend" else execution
    step = getattr(where, pause_in)

    def held(*args: Any, **kwargs: Any) -> Any:
        if after:
            result = step(*args, **kwargs)
        holding.set()
        go_on.wait(10)
        return result if after else step(*args, **kwargs)

    monkeypatch.setattr(where, pause_in, held)
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        try:
            job()
        except BaseException as exc:
            errors.append(exc)

    finishing = threading.Thread(target=run, args=(
        lambda: execution._finish(claim, account_id, [], ACCEPTED),))
    finishing.start()
    assert holding.wait(10)
    racing = threading.Thread(target=run, args=(other,))
    racing.start()
    _until_a_lock_wait(racing)
    go_on.set()
    finishing.join(20)
    racing.join(20)
    return errors


def _until_a_lock_wait(racing: threading.Thread, limit: float = 10.0) -> None:
    """Return once a transaction of this database waits for a row lock (the racing one:
    the finish is paused holding its locks), or the racing side ended without waiting."""
    deadline = time.monotonic() + limit
    with session_factory()() as s:
        while time.monotonic() < deadline and racing.is_alive():
            waiting = s.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar_one()
            s.rollback()  # a fresh snapshot of the activity view each time
            if waiting:
                return
            time.sleep(0.01)


def _by_key(db: Session, goal_id: int) -> dict[str, TaskStatus]:
    """The goal's cards' statuses by key, as committed."""
    db.rollback()
    return {t.key: t.status for t in db.scalars(
        select(Task).where(Task.goal_id == goal_id)).unique()}


def _as_operator(tenant: Tenant, action: Callable[[Session], object]) -> Callable[[], None]:
    """An operator's request: its own session, committed."""
    def request() -> None:
        with session_factory()() as s:
            bind_account(s, tenant.id)
            action(s)
            s.commit()
    return request


def test_cancelling_a_goal_while_one_of_its_cards_finishes_does_not_deadlock(
    db: Session, tenant: Tenant, held_queue: HeldQueue, monkeypatch: pytest.MonkeyPatch,
) -> None:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []), ("b", "writer", [])))
    cards = db.scalars(select(Task).where(Task.goal_id == goal.id).order_by(Task.key)).unique()
    a, b = cards.all()
    for task in (a, b):
        assert queue_task(db, task, actor="test", reason="go")
    db.commit()
    claim = execution._claim(a.id, tenant.id)
    assert claim is not None and execution._claim(b.id, tenant.id) is not None  # both running

    # The finishing card stops once it holds the account and the goal, before it
    # writes its own row.
    errors = _race(monkeypatch, claim, tenant.id, _as_operator(
        tenant, lambda s: actions.cancel_goal(s, tenant.ctx(), goal.id)), pause_in="_deliver")
    assert errors == []
    assert _by_key(db, goal.id) == {"a": TaskStatus.DONE, "b": TaskStatus.CANCELLED}
    assert db.get(Goal, goal.id).status == GoalStatus.CANCELLED  # type: ignore[union-attr]


def test_recovering_a_card_whose_worker_is_finishing_it_waits_and_leaves_it_done(
    db: Session, tenant: Tenant, held_queue: HeldQueue, monkeypatch: pytest.MonkeyPatch,
) -> None:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", [])))
    a = db.scalars(select(Task).where(Task.goal_id == goal.id)).unique().one()
    assert queue_task(db, a, actor="test", reason="go")
    db.commit()
    claim = execution._claim(a.id, tenant.id)
    assert claim is not None
    db.execute(update(Task).where(Task.id == a.id)
               .values(lease_expires_at=utcnow() - timedelta(seconds=5)))  # the lease ran out
    db.commit()
    # The finish stops once the card's row is written (and locked).
    errors = _race(monkeypatch, claim, tenant.id,
                   lambda: recovery.recover_task(a.id, account_id=tenant.id),
                   pause_in="_deliver", after=True)
    assert errors == []
    db.rollback()
    done = db.get(Task, a.id)
    assert done is not None and done.status == TaskStatus.DONE and done.attempts == 1


def test_cancelling_a_card_of_a_failed_goal_while_it_finishes_does_not_deadlock(
    db: Session, tenant: Tenant, held_queue: HeldQueue, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cancelling a card of a failed goal also resumes the goal (card, then goal)."""
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []), ("b", "writer", [])))
    a = db.scalars(select(Task).where(Task.goal_id == goal.id, Task.key == "a")).unique().one()
    assert queue_task(db, a, actor="test", reason="go")
    db.commit()
    claim = execution._claim(a.id, tenant.id)
    assert claim is not None
    db.execute(update(Goal).where(Goal.id == goal.id).values(status=GoalStatus.FAILED))
    db.commit()  # e.g. a re-plan failed while this card was still running
    # The finish stops once the account and the goal are locked, the card not yet.
    errors = _race(monkeypatch, claim, tenant.id, _as_operator(
        tenant, lambda s: actions.cancel(s, tenant.ctx(), a.id)), pause_in="_deliver")
    # The finish won; the cancellation then found the card done and said so (a 409).
    assert len(errors) == 1 and isinstance(errors[0], Conflict), errors
    db.rollback()
    done = db.get(Task, a.id)
    assert done is not None and done.status == TaskStatus.DONE


def test_retrying_a_card_of_a_failed_goal_while_another_finishes_does_not_deadlock(
    db: Session, tenant: Tenant, held_queue: HeldQueue, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A retry resumes the failed goal, then holds credits for the card (goal, then account)
    unless it takes the account first; the finishing card holds the account, then wants
    the goal."""
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []), ("b", "writer", [])))
    cards = {t.key: t for t in db.scalars(select(Task).where(Task.goal_id == goal.id)).unique()}
    a_id, b_id = cards["a"].id, cards["b"].id
    assert queue_task(db, cards["b"], actor="test", reason="go")
    db.execute(update(Task).where(Task.id == a_id).values(status=TaskStatus.FAILED))
    db.execute(update(Goal).where(Goal.id == goal.id).values(status=GoalStatus.FAILED))
    db.commit()
    claim = execution._claim(b_id, tenant.id)
    assert claim is None  # a failed goal starts nothing new ...
    db.execute(update(Goal).where(Goal.id == goal.id).values(status=GoalStatus.RUNNING))
    db.commit()
    claim = execution._claim(b_id, tenant.id)  # ... so b started before the goal failed
    assert claim is not None
    db.execute(update(Goal).where(Goal.id == goal.id).values(status=GoalStatus.FAILED))
    db.commit()

    # The finish stops once its settlement holds the account row; the goal comes next.
    errors = _race(monkeypatch, claim, tenant.id, _as_operator(
        tenant, lambda s: actions.retry(s, tenant.ctx(), a_id)), pause_in="add_goal_spend")
    assert errors == []
    assert _by_key(db, goal.id) == {"a": TaskStatus.QUEUED, "b": TaskStatus.DONE}
    assert db.get(Goal, goal.id).status == GoalStatus.RUNNING  # type: ignore[union-attr]

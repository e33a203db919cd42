"""Events raised anywhere reach the account's webhooks: notify() writes the outbox in the
changing transaction, the senders post it after commit; budgets and routines raise theirs."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.credits.test_blocking_and_caps import _settle_down
from tests.factories import HeldQueue, Tenant, make_planned_goal, plan_of
from tests.routines.conftest import make_routine, runs
from tests.webhooks.receiver import Receiver
from web4os.accounts.models import Account
from web4os.goals.models import Goal, GoalStatus
from web4os.notifications.models import Notification
from web4os.queue import enqueue
from web4os.routines.outcomes import report_failed_goals
from web4os.routines.scheduler import fire_due
from web4os.webhooks import service as webhooks
from web4os.webhooks.sender import sender_pool
from web4os.workers.embedded import EmbeddedRunner


def _events(db: Session, tenant: Tenant, event: str) -> list[Notification]:
    db.rollback()
    return list(db.scalars(select(Notification).where(Notification.account_id == tenant.id,
                                                      Notification.event == event)))


def test_a_completed_goal_is_posted_to_the_subscribed_webhook(
        runner: EmbeddedRunner, db: Session, tenant: Tenant, receiver: Receiver) -> None:
    webhooks.create_endpoint(db, tenant.id, url=receiver.url, events=["goal.completed"])
    goal = make_planned_goal(db, tenant, plan_of(("a", "writer", [])))
    enqueue(db, "advance_goal", goal_id=goal.id, account_id=tenant.id)
    db.commit()
    assert _settle_down(db, runner, goal.id).status == GoalStatus.COMPLETED
    deadline = time.monotonic() + 20
    while not receiver.heard and time.monotonic() < deadline:
        time.sleep(0.1)
    sender_pool().wait_idle(10)
    [heard] = receiver.heard
    body = json.loads(heard.body)
    [note] = _events(db, tenant, "goal.completed")
    assert (body["event"], body["id"], body["goal_id"]) == ("goal.completed", note.id, goal.id)
    assert heard.headers["webhook-signature"].startswith("v1,")


def test_a_budget_warning_is_a_notification_once_a_month(
        runner: EmbeddedRunner, db: Session, tenant: Tenant) -> None:
    db.execute(update(Account).where(Account.id == tenant.id)
               .values(monthly_budget=100, budget_warn_percent=1))
    goal = make_planned_goal(db, tenant, plan_of(("a", "writer", []), ("b", "writer", ["a"])))
    enqueue(db, "advance_goal", goal_id=goal.id, account_id=tenant.id)
    db.commit()
    assert _settle_down(db, runner, goal.id).status == GoalStatus.COMPLETED
    [warning] = _events(db, tenant, "budget.warning")
    assert "monthly budget" in warning.title and warning.link == "/usage#budget"


def test_a_routine_that_cannot_start_or_whose_goal_fails_is_reported_once(
        db: Session, tenant: Tenant, held_queue: HeldQueue) -> None:
    start = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    routine = make_routine(db, tenant, start, overlap_policy="start")
    db.execute(update(Account).where(Account.id == tenant.id).values(credit_balance=0))
    db.commit()
    assert fire_due(start + timedelta(hours=1, seconds=2)) == 1  # recorded as failed
    [not_started] = _events(db, tenant, "routine.failed")
    assert "did not start" in not_started.title

    db.execute(update(Account).where(Account.id == tenant.id).values(credit_balance=1000))
    db.commit()
    assert fire_due(start + timedelta(days=1, hours=1, seconds=2)) == 1
    started = [r for r in runs(db, routine) if r.goal_id]
    assert len(started) == 1
    db.execute(update(Goal).where(Goal.id == started[0].goal_id)
               .values(status=GoalStatus.FAILED, status_reason="A card failed twice."))
    db.commit()
    assert report_failed_goals() == 1
    assert report_failed_goals() == 0  # a second sweep reports nothing more
    failed = [n for n in _events(db, tenant, "routine.failed") if "goal failed" in n.title]
    assert len(failed) == 1 and failed[0].body == "A card failed twice."

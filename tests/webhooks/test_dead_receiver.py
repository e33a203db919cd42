"""A receiver that takes the connection and never answers never slows a card: a goal on
the offline model finishes in its normal time while every transaction of its life writes
a delivery to that receiver (the way the notifications write theirs) and the senders
wait out their timeouts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from tests.factories import Tenant
from tests.webhooks.receiver import Receiver
from web4os.config import get_settings
from web4os.goals import service as goals
from web4os.goals.models import Goal, GoalStatus
from web4os.goals.schemas import GoalCreate
from web4os.tenancy import bound_account
from web4os.webhooks import service
from web4os.webhooks.models import WebhookDelivery
from web4os.webhooks.sender import sender_pool
from web4os.workers.embedded import EmbeddedRunner


@pytest.fixture
def every_transaction_notifies() -> Iterator[list[int]]:
    """Each commit of a card worker's tenant transaction writes a ``card.failed`` delivery
    in that transaction (the senders' own transactions excepted)."""
    written: list[int] = []

    def before_commit(session: Session) -> None:
        account = bound_account(session)
        if account is None or threading.current_thread().name.startswith("web4os-webhooks"):
            return
        written.append(service.enqueue_deliveries(session, account, "card.failed", {"id": 1}))

    event.listen(Session, "before_commit", before_commit)
    yield written
    event.remove(Session, "before_commit", before_commit)


def _run_goal(db: Session, tenant: Tenant, runner: EmbeddedRunner, title: str) -> float:
    started = time.monotonic()
    goal = goals.create_goal(db, tenant.ctx(), GoalCreate(title=title))
    db.commit()
    deadline = started + 60
    while time.monotonic() < deadline:
        runner.wait_idle(timeout=5)
        db.rollback()
        status = db.scalar(select(Goal.status).where(Goal.id == goal.id))
        if status in (GoalStatus.COMPLETED, GoalStatus.FAILED):
            assert status == GoalStatus.COMPLETED
            return time.monotonic() - started
    raise AssertionError("the goal did not finish")


def test_a_receiver_that_never_answers_does_not_slow_a_goal(
        db: Session, tenant: Tenant, runner: EmbeddedRunner, receiver: Receiver,
        every_transaction_notifies: list[int]) -> None:
    normal = _run_goal(db, tenant, runner, "Plan the spring menu")  # no endpoint yet
    assert sum(every_transaction_notifies) == 0

    receiver.hang.set()
    service.create_endpoint(db, tenant.id, url=receiver.url, events=["card.failed"])
    db.commit()
    with_dead_receiver = _run_goal(db, tenant, runner, "Plan the summer menu")
    written = sum(every_transaction_notifies)
    busy = sender_pool().busy()

    timeout = get_settings().webhook_timeout_seconds
    assert written >= 8  # the goal's transactions each wrote one
    # Sent one after another, the deliveries would hold the goal up for this long:
    assert written * timeout > 30
    assert busy > 0  # deliveries still waiting on the receiver when the goal was done
    deadline = time.monotonic() + 10  # a sender reaches the receiver soon after, and hangs
    while not receiver.heard and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(receiver.heard) >= 1
    print(f"goal alone {normal:.2f} s; with {written} deliveries hanging {with_dead_receiver:.2f} s")
    assert with_dead_receiver < normal * 2 + 2.0, (normal, with_dead_receiver)
    db.rollback()
    assert db.scalar(select(func.count()).select_from(WebhookDelivery)) == written

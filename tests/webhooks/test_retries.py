"""Retries on a moved clock (time-machine): a receiver that fails then recovers gets the
delivery again after the backoff; one that never recovers is given up on 24 hours after
the first attempt; two sweeps at once send each attempt once."""

from __future__ import annotations

import itertools
import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant
from tests.webhooks.receiver import Receiver, readme_verifier
from web4os.errors import Conflict, NotFound
from web4os.webhooks import delivery, sender, service
from web4os.webhooks.models import DeliveryStatus, WebhookDelivery
from web4os.webhooks.sender import SenderPool, due_deliveries, send_due, sender_pool

START = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
PAYLOAD = {"id": 1, "event": "card.failed", "title": "A card failed"}


def _one(db: Session) -> WebhookDelivery:
    db.rollback()
    return db.scalars(select(WebhookDelivery)).one()


def _queue_one(db: Session, tenant: Tenant, receiver: Receiver) -> str:
    made = service.create_endpoint(db, tenant.id, url=receiver.url, events=["card.failed"])
    assert service.enqueue_deliveries(db, tenant.id, "card.failed", PAYLOAD) == 1
    db.commit()
    assert sender_pool().wait_idle(20)
    return made.secret


def test_the_waits_double_with_jitter_up_to_a_cap_and_end_24_hours_after_the_first() -> None:
    rng = random.Random(4)
    waits = [(delivery.next_attempt_at(START, n, START, rng) or START) - START for n in range(1, 12)]
    base = delivery.RETRY_BASE
    for n, wait in enumerate(waits, start=1):
        nominal = min(base * 2 ** (n - 1), delivery.RETRY_CAP)
        assert nominal * 0.8 <= wait <= nominal * 1.2, (n, wait)
    assert len({w.total_seconds() for w in waits}) == len(waits)  # jittered, not in step
    late = START + timedelta(hours=23, minutes=30)
    assert delivery.next_attempt_at(START, 15, late, rng) == START + delivery.RETRY_WINDOW
    assert delivery.next_attempt_at(START, 16, START + delivery.RETRY_WINDOW, rng) is None


def test_a_receiver_that_fails_then_recovers_gets_the_delivery_again_after_the_backoff(
        db: Session, tenant: Tenant, receiver: Receiver) -> None:
    receiver.answers = [500, 200]
    with time_machine.travel(START, tick=False) as clock:
        secret = _queue_one(db, tenant, receiver)
        row = _one(db)
        assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.FAILED, 1, 500)
        assert row.last_error == "The receiver answered 500."
        assert row.next_attempt_at is not None
        assert START + timedelta(seconds=24) <= row.next_attempt_at <= START + timedelta(seconds=36)
        clock.move_to(row.next_attempt_at - timedelta(seconds=1))
        assert send_due() == 0  # not due yet
        clock.move_to(row.next_attempt_at + timedelta(seconds=1))
        assert send_due() == 1
        assert sender_pool().wait_idle(20)
        row = _one(db)
        assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.DELIVERED, 2, 200)
        assert row.last_error == "" and row.next_attempt_at is None
        first, second = receiver.heard
        assert first.headers["webhook-id"] == second.headers["webhook-id"] == row.message_id
        assert int(second.headers["webhook-timestamp"]) > int(first.headers["webhook-timestamp"])
        assert readme_verifier()(secret, second.headers, second.body)


def test_a_receiver_that_never_recovers_is_given_up_on_24_hours_after_the_first_attempt(
        db: Session, tenant: Tenant, receiver: Receiver) -> None:
    receiver.answers = [503]
    with time_machine.travel(START, tick=False) as clock:
        _queue_one(db, tenant, receiver)
        row = _one(db)
        for _ in range(40):
            if row.status == DeliveryStatus.GAVE_UP:
                break
            assert row.status == DeliveryStatus.FAILED and row.next_attempt_at is not None
            clock.move_to(row.next_attempt_at)
            assert send_due() == 1
            assert sender_pool().wait_idle(20)
            row = _one(db)
        assert row.status == DeliveryStatus.GAVE_UP and row.next_attempt_at is None
        assert row.first_attempt_at == START
        assert row.last_attempt_at == START + delivery.RETRY_WINDOW  # the last try, at the end
        assert 15 <= row.attempts == len(receiver.heard) <= 26
        sent = [h.at for h in receiver.heard]
        gaps = [b - a for a, b in itertools.pairwise(sent)]
        assert 24 <= gaps[0] <= 36 and gaps[4] > 4 * gaps[0]  # backing off
        assert max(gaps) <= delivery.RETRY_CAP.total_seconds() * 1.2
        clock.move_to(START + timedelta(days=2))
        assert send_due() == 0  # given up: the sweep leaves it alone

        receiver.answers = [204]
        db.rollback()
        with pytest.raises(NotFound):  # the delivery, but under another endpoint's id
            service.retry_now(db, tenant.id, row.endpoint_id + 1, row.id)
    # "Retry now" gives a given-up delivery one more attempt.
    retried = service.retry_now(db, tenant.id, row.endpoint_id, row.id)
    db.commit()
    assert retried.status == DeliveryStatus.FAILED
    assert sender_pool().wait_idle(20)
    row = _one(db)
    assert (row.status, row.last_status_code) == (DeliveryStatus.DELIVERED, 204)
    with pytest.raises(Conflict, match="Only a failed delivery"):
        service.retry_now(db, tenant.id, row.endpoint_id, row.id)


def test_two_sweeps_at_once_send_each_delivery_once(
        db: Session, tenant: Tenant, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sender, "send_after_commit", lambda *_a, **_k: None)  # sweeps only
    service.create_endpoint(db, tenant.id, url=receiver.url, events=["card.failed"])
    for n in range(24):
        service.enqueue_deliveries(db, tenant.id, "card.failed", {**PAYLOAD, "id": n})
    db.commit()
    receiver.delay = 0.02
    pools = [SenderPool(4), SenderPool(4)]  # two processes' senders
    start = threading.Barrier(len(pools))

    def sweep(pool: SenderPool) -> None:
        start.wait()
        pool.submit_all(due_deliveries())

    threads = [threading.Thread(target=sweep, args=(p,)) for p in pools]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(p.wait_idle(30) for p in pools)
    ids = receiver.ids()
    assert len(ids) == 24 == len(set(ids))
    db.rollback()
    rows = db.scalars(select(WebhookDelivery)).all()
    assert {(r.status, r.attempts) for r in rows} == {(DeliveryStatus.DELIVERED, 1)}

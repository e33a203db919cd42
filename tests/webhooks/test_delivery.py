"""Deliveries reach a real receiver on loopback, signed so the README's snippet (run as
written) and the Standard Webhooks library both verify them; they go out only after the
transaction that wrote them commits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session
from standardwebhooks import Webhook, WebhookVerificationError

from tests.factories import Tenant
from tests.webhooks.receiver import Receiver, readme_verifier
from web4os.config import get_settings
from web4os.webhooks import service
from web4os.webhooks.models import DeliveryStatus, WebhookDelivery
from web4os.webhooks.sender import send_due, sender_pool

PAYLOAD = {"id": 7, "event": "goal.completed", "created_at": "2026-12-04T09:00:00+00:00",
           "account_id": 0, "title": "“Launch” finished — 3 cards", "body": "All done.",
           "url": "https://ops.example.com/goals/3", "goal_id": 3, "task_id": None}


def _deliveries(db: Session) -> list[WebhookDelivery]:
    db.rollback()
    return list(db.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_a_delivery_is_signed_and_the_readme_snippet_verifies_it(
        db: Session, tenant: Tenant, receiver: Receiver) -> None:
    made = service.create_endpoint(db, tenant.id, url=receiver.url,
                                   events=["goal.completed", "card.failed"])
    db.commit()
    assert made.secret.startswith("whsec_") and made.secret not in made.endpoint.secret_encrypted
    assert service.enqueue_deliveries(db, tenant.id, "goal.completed", PAYLOAD) == 1
    db.commit()
    assert sender_pool().wait_idle(20)

    [heard] = receiver.heard
    assert json.loads(heard.body) == PAYLOAD
    assert heard.headers["content-type"] == "application/json"
    verify = readme_verifier()
    assert verify(made.secret, heard.headers, heard.body) is True
    assert verify(made.secret, heard.headers, heard.body + b" ") is False
    other = service.rotate_secret(db, tenant.id, made.endpoint.id).secret
    assert verify(other, heard.headers, heard.body) is False
    assert Webhook(made.secret).verify(heard.body, heard.headers) == PAYLOAD
    with pytest.raises(WebhookVerificationError):
        Webhook(made.secret).verify(heard.body.replace(b"All", b"Not"), heard.headers)
    stale = {**heard.headers, "webhook-timestamp": str(int(heard.headers["webhook-timestamp"]) - 600)}
    assert verify(made.secret, stale, heard.body) is False

    [row] = _deliveries(db)
    assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.DELIVERED, 1, 200)
    assert row.message_id == heard.headers["webhook-id"] and row.next_attempt_at is None


def test_nothing_is_sent_for_a_rolled_back_transaction(
        db: Session, tenant: Tenant, receiver: Receiver) -> None:
    service.create_endpoint(db, tenant.id, url=receiver.url, events=["card.failed"])
    db.commit()
    assert service.enqueue_deliveries(db, tenant.id, "card.failed",
                                      {**PAYLOAD, "created_at": datetime.now(UTC)}) == 1
    db.rollback()
    send_due()  # the sweep finds nothing either: the outbox row never existed
    assert sender_pool().wait_idle(10)
    assert receiver.heard == [] and _deliveries(db) == []


def test_only_enabled_subscribed_endpoints_get_an_event_and_a_test_event_goes_to_one(
        db: Session, tenant: Tenant, other_tenant: Tenant, receiver: Receiver) -> None:
    wants = service.create_endpoint(db, tenant.id, url=receiver.url + "?a",
                                    events=["credits.low"]).endpoint
    service.create_endpoint(db, tenant.id, url=receiver.url + "?b", events=["goal.completed"])
    off = service.create_endpoint(db, tenant.id, url=receiver.url + "?c",
                                  events=["credits.low"], enabled=False).endpoint
    service.create_endpoint(db, other_tenant.id, url=receiver.url + "?d", events=["credits.low"])
    db.commit()
    assert service.enqueue_deliveries(db, tenant.id, "credits.low",
                                      {**PAYLOAD, "event": "credits.low"}) == 1
    test = service.send_test(db, tenant.id, off.id)  # whatever it chose, even while off
    db.commit()
    assert sender_pool().wait_idle(20)
    assert sorted(h.headers["webhook-id"] for h in receiver.heard) == sorted(
        [test.message_id, *(d.message_id for d in _deliveries(db) if d.endpoint_id == wants.id)])
    events = sorted(json.loads(h.body)["event"] for h in receiver.heard)
    assert events == ["credits.low", "webhook.test"]
    assert {d.status for d in _deliveries(db)} == {DeliveryStatus.DELIVERED}


def test_after_a_rotation_the_old_secret_signs_too_for_a_day(
        db: Session, tenant: Tenant, receiver: Receiver) -> None:
    made = service.create_endpoint(db, tenant.id, url=receiver.url, events=["goal.completed"])
    db.commit()
    new = service.rotate_secret(db, tenant.id, made.endpoint.id).secret
    db.commit()
    verify = readme_verifier()
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False) as clock:
        checked = []
        for later in (timedelta(0), service.ROTATION_OVERLAP + timedelta(seconds=1)):
            clock.move_to(start + later)
            service.enqueue_deliveries(db, tenant.id, "goal.completed", PAYLOAD)
            db.commit()
            assert sender_pool().wait_idle(20)
            heard = receiver.heard[-1]
            checked.append((len(heard.headers["webhook-signature"].split()),
                            verify(new, heard.headers, heard.body),
                            verify(made.secret, heard.headers, heard.body)))
    assert checked == [(2, True, True), (1, True, False)]


def test_rotating_gets_past_a_secret_this_servers_key_cannot_read(
        db: Session, tenant: Tenant, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    made = service.create_endpoint(db, tenant.id, url=receiver.url, events=["goal.completed"])
    db.commit()
    monkeypatch.setenv("WEB4OS_CREDENTIALS_KEY", "a key the secret was not sealed with")
    get_settings.cache_clear()
    service.enqueue_deliveries(db, tenant.id, "goal.completed", PAYLOAD)
    db.commit()
    assert sender_pool().wait_idle(20)
    [row] = _deliveries(db)
    assert row.status == DeliveryStatus.FAILED and "Rotate the secret" in row.last_error
    assert receiver.heard == []
    new = service.rotate_secret(db, tenant.id, made.endpoint.id).secret
    service.retry_now(db, tenant.id, made.endpoint.id, row.id)
    db.commit()
    assert sender_pool().wait_idle(20)
    [heard] = receiver.heard
    assert heard.headers["webhook-signature"].count("v1,") == 1
    assert readme_verifier()(new, heard.headers, heard.body)

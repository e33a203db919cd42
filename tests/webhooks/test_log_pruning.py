"""The delivery log keeps finished deliveries 30 days: older delivered and given-up rows
go, in every account; waiting ones and recent ones stay; the sweep's step runs it at
most hourly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant
from tests.webhooks.receiver import Receiver
from web4os.db import utcnow
from web4os.webhooks import pruning, service
from web4os.webhooks.models import DeliveryStatus, WebhookDelivery
from web4os.workers.periodic import STEPS


def _log(db: Session, tenant: Tenant, url: str, rows: list[tuple[str, DeliveryStatus, int]]
         ) -> None:
    endpoint = service.create_endpoint(db, tenant.id, url=url, events=["goal.completed"])
    now = utcnow()
    for name, status, days_ago in rows:
        db.add(WebhookDelivery(account_id=tenant.id, endpoint_id=endpoint.endpoint.id,
                               message_id=f"msg_{tenant.id}_{name}", event="goal.completed",
                               payload={}, status=status,
                               created_at=now - timedelta(days=days_ago)))
    db.commit()


def _left(db: Session) -> set[str]:
    db.rollback()
    return {m.split("_", 2)[2] for m in db.scalars(select(WebhookDelivery.message_id))}


def test_finished_deliveries_older_than_the_log_go_in_every_account(
        db: Session, tenant: Tenant, other_tenant: Tenant, receiver: Receiver) -> None:
    rows = [("old-delivered", DeliveryStatus.DELIVERED, 31),
            ("old-gave-up", DeliveryStatus.GAVE_UP, 45),
            ("old-but-waiting", DeliveryStatus.FAILED, 40),
            ("old-pending", DeliveryStatus.PENDING, 40),
            ("recent", DeliveryStatus.DELIVERED, 29)]
    _log(db, tenant, receiver.url, rows)
    _log(db, other_tenant, receiver.url, rows[:1])
    assert pruning.prune_log() == 3
    assert _left(db) == {"old-but-waiting", "old-pending", "recent"}
    assert pruning.prune_log() == 0  # a second run finds nothing


def test_the_sweep_prunes_at_most_hourly(db: Session, tenant: Tenant, receiver: Receiver,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert ("webhook log", pruning.prune_step) in STEPS
    monkeypatch.setattr(pruning, "_last_run", None)
    _log(db, tenant, receiver.url, [("a", DeliveryStatus.DELIVERED, 31)])
    assert pruning.prune_step() == 1
    _log(db, tenant, receiver.url, [("b", DeliveryStatus.DELIVERED, 31)])
    assert pruning.prune_step() == 0  # within the hour: skipped
    assert _left(db) == {"b"}
    monkeypatch.setattr(pruning, "_last_run", utcnow() - pruning.EVERY)
    assert pruning.prune_step() == 1
    assert _left(db) == set()

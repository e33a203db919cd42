"""Webhook URLs go through the address guard, when saved and at every attempt: a name
that resolves into a private network is refused, with the resolver stubbed and any
connect beyond loopback failing the test; plain http only reaches allowed private hosts."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant
from tests.support.net import ConnectGuard, FakeDNS
from tests.webhooks.receiver import Receiver
from web4os.config import get_settings
from web4os.errors import InvalidInput
from web4os.webhooks import service
from web4os.webhooks.models import DeliveryStatus, WebhookDelivery
from web4os.webhooks.sender import sender_pool


def test_a_name_resolving_to_a_private_address_is_refused(
        db: Session, tenant: Tenant, fake_dns: FakeDNS, connect_guard: ConnectGuard) -> None:
    fake_dns.set("inside.test", "10.0.0.1")
    fake_dns.set("mixed.test", "93.184.216.34", "10.0.0.1")
    fake_dns.set("meta.test", "169.254.169.254")
    for url, words in (("https://inside.test/hook", r"inside\.test \(10\.0\.0\.1\).*private"),
                       ("https://mixed.test/hook", r"10\.0\.0\.1"),
                       ("https://meta.test/hook", "cloud metadata"),
                       ("https://127.0.0.1/hook", "loopback"),
                       ("file:///etc/passwd", "Only http and https")):
        with pytest.raises(InvalidInput, match=words) as refused:
            service.create_endpoint(db, tenant.id, url=url, events=["card.failed"])
        assert refused.value.field == "url"
    assert connect_guard.connected == []


def test_https_is_required_except_for_private_hosts_the_admin_allows(
        db: Session, tenant: Tenant, fake_dns: FakeDNS, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns.set("public.test", "93.184.216.34")
    with pytest.raises(InvalidInput, match="Use an https:// URL"):
        service.create_endpoint(db, tenant.id, url="http://public.test/hook", events=["card.failed"])
    assert service.create_endpoint(db, tenant.id, url="https://public.test/hook",
                                   events=["card.failed"]).endpoint.id
    fake_dns.set("relay.office.test", "10.20.0.5")
    monkeypatch.setenv("WEB4OS_NET_ALLOWED_HOSTS", "10.20.0.0/16")
    get_settings.cache_clear()
    assert service.create_endpoint(db, tenant.id, url="http://relay.office.test/hook",
                                   events=["card.failed"]).endpoint.url.startswith("http://")
    db.rollback()


def test_an_attempt_is_guarded_again_when_the_name_moves_into_the_private_network(
        db: Session, tenant: Tenant, fake_dns: FakeDNS, connect_guard: ConnectGuard,
        receiver: Receiver) -> None:
    fake_dns.set("hooks.test", "93.184.216.34")
    made = service.create_endpoint(db, tenant.id, url="https://hooks.test/in", events=["card.failed"])
    db.commit()
    fake_dns.set("hooks.test", "10.0.0.1")  # rebinding after the check at save time
    assert service.enqueue_deliveries(db, tenant.id, "card.failed", {"id": 1}) == 1
    db.commit()
    assert sender_pool().wait_idle(20)
    db.rollback()
    row = db.scalars(select(WebhookDelivery)).one()
    assert row.endpoint_id == made.endpoint.id and row.status == DeliveryStatus.FAILED
    assert "hooks.test (10.0.0.1)" in row.last_error and "private network" in row.last_error
    assert connect_guard.connected == [] and connect_guard.refused == []

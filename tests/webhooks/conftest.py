"""Webhook tests: a receiver on loopback, which the address guard lets through only
because each test allows it, the way a server admin would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_tenant
from tests.support.net import connect_guard, fake_dns
from tests.webhooks.receiver import Receiver, receiving
from web4os.config import get_settings
from web4os.webhooks.sender import sender_pool


@pytest.fixture
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("WEB4OS_NET_ALLOWED_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def receiver(allow_loopback: None) -> Iterator[Receiver]:
    with receiving() as r:
        yield r
        r.released.set()
        sender_pool().wait_idle(30)  # nothing of this test still sending into the next


@pytest.fixture
def other_tenant(db: Session) -> Tenant:
    t = make_tenant(db, "Other Co")
    db.commit()
    return t


__all__ = ["connect_guard", "fake_dns"]

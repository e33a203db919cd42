"""The health endpoints: ``/healthz`` for machines, ``/health`` for platform admins."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import PASSWORD, Tenant, login
from web4os.accounts.service import ensure_admin
from web4os.config import get_settings


def test_healthz_reports_the_embedded_runner(client: TestClient) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok" and body["dispatch"] == "embedded"
    assert body["model"] == "offline"
    assert body["database"]["ok"] is True
    assert body["embedded"]["threads"] == 4 and body["embedded"]["closed"] is False
    assert "broker" not in body


def test_healthz_is_503_when_the_broker_is_down(client: TestClient,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_DISPATCH", "celery")
    monkeypatch.setenv("WEB4OS_BROKER_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    get_settings.cache_clear()
    resp = client.get("/healthz")
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "down" and body["broker"]["ok"] is False
    assert "127.0.0.1" not in resp.text, "the public check names no hosts"
    assert body["database"]["ok"] is True


def test_health_page_is_for_platform_admins_only(client: TestClient, db: Session,
                                                 tenant: Tenant) -> None:
    admin = ensure_admin(db, "root@example.com", PASSWORD)
    db.commit()
    assert client.get("/health", follow_redirects=False).status_code == 303
    login(client, tenant.owner)
    assert client.get("/health").status_code == 404
    client.cookies.clear()
    login(client, admin)
    page = client.get("/health")
    assert page.status_code == 200
    assert "System health" in page.text and "Embedded worker" in page.text
    assert "Threads: <strong>4</strong>" in page.text


def test_health_page_lists_celery_workers(client: TestClient, db: Session,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from web4os.admin import health as health_routes
    from web4os.workers.health import HealthReport, Probe
    from web4os.workers.liveness import WorkerBeat

    now = time.time()
    report = HealthReport(dispatch="celery", model="offline", database=Probe(True, 3),
                          broker=Probe(True, 1), queue_waiting=7, queue_reserved=2,
                          workers=[WorkerBeat("web4os-1@box", 42, 64, 5, now - 600, now - 2,
                                              True)])
    monkeypatch.setattr(health_routes, "collect", lambda: report)
    admin = ensure_admin(db, "root2@example.com", PASSWORD)
    db.commit()
    login(client, admin)
    page = client.get("/health")
    assert page.status_code == 200
    for text in ("web4os-1@box", "Waiting: <strong>7</strong>", "Workers (1)", "10.0 min"):
        assert text in page.text
    workers = client.get("/healthz").json()["workers"]
    assert (workers["count"], workers["threads"], workers["running"]) == (1, 64, 5)
    assert 2 <= workers["last_heartbeat_seconds_ago"] < 60

"""The webhooks API and pages: owners configure, everyone else reads; a secret is shown
once; the test event and "Retry now" reach the receiver; another account's endpoints and
delivery logs are not found."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant, csrf_from, login
from tests.tools.conftest import bearer
from tests.webhooks.receiver import Receiver, readme_verifier
from web4os.accounts.models import Role
from web4os.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from web4os.webhooks.sender import sender_pool

API = "/api/v1/webhooks"


def test_owners_configure_over_the_api_and_the_secret_comes_back_once(
        client: TestClient, db: Session, tenant: Tenant, receiver: Receiver) -> None:
    owner, viewer = bearer(db, tenant), bearer(db, tenant, Role.VIEWER)
    operator = bearer(db, tenant, Role.OPERATOR)
    body = {"url": receiver.url, "events": ["goal.completed"], "description": "Relay"}
    for refused in (viewer, operator):
        assert client.post(API, headers=refused, json=body).status_code == 403
    made = client.post(API, headers=owner, json=body)
    assert made.status_code == 201, made.text
    created = made.json()
    secret, endpoint_id = created["secret"], created["id"]
    assert secret.startswith("whsec_") and created["secret_hint"].endswith(secret[-4:])
    for path in (API, f"{API}/{endpoint_id}"):
        seen = client.get(path, headers=viewer)
        assert seen.status_code == 200 and secret not in seen.text and "secret\"" not in seen.text
    assert client.patch(f"{API}/{endpoint_id}", headers=viewer, json={"enabled": False}
                        ).status_code == 403

    changed = client.patch(f"{API}/{endpoint_id}", headers=owner,
                           json={"events": ["card.failed", "goal.completed"], "enabled": False})
    assert changed.json()["events"] == ["card.failed", "goal.completed"]
    assert changed.json()["enabled"] is False

    tested = client.post(f"{API}/{endpoint_id}/test", headers=owner)
    assert tested.status_code == 202 and tested.json()["event"] == "webhook.test"
    assert sender_pool().wait_idle(20)
    [heard] = receiver.heard
    assert readme_verifier()(secret, heard.headers, heard.body)
    log = client.get(f"{API}/{endpoint_id}/deliveries", headers=viewer).json()
    assert [(d["event"], d["status"], d["last_status_code"]) for d in log] == [
        ("webhook.test", "delivered", 200)]

    rotated = client.post(f"{API}/{endpoint_id}/rotate-secret", headers=owner).json()
    assert rotated["secret"] != secret and rotated["secret_hint"].endswith(rotated["secret"][-4:])
    assert client.delete(f"{API}/{endpoint_id}", headers=viewer).status_code == 403
    assert client.delete(f"{API}/{endpoint_id}", headers=owner).status_code == 204
    assert client.get(f"{API}/{endpoint_id}", headers=owner).status_code == 404
    db.rollback()
    assert db.scalars(select(WebhookDelivery)).all() == []


def test_the_api_and_the_page_refuse_with_the_same_words(
        client: TestClient, db: Session, tenant: Tenant, receiver: Receiver) -> None:
    owner = bearer(db, tenant)
    answer = client.post(API, headers=owner, json={"url": receiver.url, "events": ["nope"]})
    assert answer.status_code == 422 and answer.json()["field"] == "events"
    assert "Unknown event: nope" in answer.json()["detail"]
    none = client.post(API, headers=owner, json={"url": receiver.url, "events": []})
    assert none.json()["detail"] == "Choose at least one event to send."
    ftp = client.post(API, headers=owner, json={"url": "ftp://example.com/x",
                                                "events": ["card.failed"]})
    assert ftp.status_code == 422 and ftp.json()["field"] == "url"

    login(client, tenant.owner)
    csrf = csrf_from(client.get("/settings/webhooks").text)
    page = client.post("/settings/webhooks", data={"csrf_token": csrf, "url": receiver.url,
                                                   "description": "Kept"})
    assert page.status_code == 400
    assert "Choose at least one event to send." in page.text and 'value="Kept"' in page.text
    page = client.post("/settings/webhooks", data={"csrf_token": csrf, "url": "ftp://example.com/x",
                                                   "events": "card.failed"})
    assert ftp.json()["detail"] in page.text.replace("&#34;", '"').replace("&#39;", "'")


def test_the_pages_show_the_secret_once_the_log_and_retry_now(
        client: TestClient, db: Session, tenant: Tenant, receiver: Receiver) -> None:
    receiver.answers = [500, 200]
    login(client, tenant.owner)
    csrf = csrf_from(client.get("/settings/webhooks").text)
    made = client.post("/settings/webhooks", data={
        "csrf_token": csrf, "url": receiver.url, "events": ["goal.completed", "credits.low"]})
    assert made.status_code == 200 and "won't be shown again" in made.text
    secret = made.text.split('id="new-secret" class="secret" type="text" readonly value="')[1][:50]
    secret = secret.split('"')[0]
    page = client.get("/settings/webhooks")
    assert receiver.url in page.text and secret not in page.text
    db.rollback()
    endpoint_id = db.scalars(select(WebhookEndpoint.id)).one()
    sent = client.post(f"/settings/webhooks/{endpoint_id}/test", data={"csrf_token": csrf},
                       follow_redirects=False)
    assert sent.status_code == 303
    assert sender_pool().wait_idle(20)
    log = client.get(f"/settings/webhooks/{endpoint_id}")
    assert secret not in log.text and "The receiver answered 500." in log.text
    assert "Retry now" in log.text
    db.rollback()
    delivery = db.scalars(select(WebhookDelivery)).one()
    assert delivery.status == DeliveryStatus.FAILED and delivery.next_attempt_at is not None
    retried = client.post(f"/settings/webhooks/{endpoint_id}/deliveries/{delivery.id}/retry",
                          data={"csrf_token": csrf}, follow_redirects=False)
    assert retried.status_code == 303
    assert sender_pool().wait_idle(20)
    assert [readme_verifier()(secret, h.headers, h.body) for h in receiver.heard] == [True, True]
    log = client.get(f"/settings/webhooks/{endpoint_id}")
    assert "delivered" in log.text and "Retry now" not in log.text

    client.cookies.clear()
    login(client, tenant.viewer)
    seen = client.get(f"/settings/webhooks/{endpoint_id}")
    assert seen.status_code == 200 and "delivered" in seen.text
    assert "Send test event" not in seen.text and "Rotate secret" not in seen.text
    csrf = csrf_from(client.get("/").text)
    refused = client.post(f"/settings/webhooks/{endpoint_id}/rotate", data={"csrf_token": csrf})
    assert refused.status_code == 403


def test_a_delivery_under_another_endpoint_is_not_found(
        client: TestClient, db: Session, tenant: Tenant, other_tenant: Tenant,
        receiver: Receiver) -> None:
    owner = bearer(db, tenant)
    first = client.post(API, headers=owner, json={"url": receiver.url, "events": ["card.failed"]})
    second = client.post(API, headers=owner, json={"url": receiver.url + "2",
                                                   "events": ["card.failed"]})
    theirs = client.post(API, headers=bearer(db, other_tenant),
                         json={"url": receiver.url + "3", "events": ["card.failed"]})
    receiver.answers = [500]
    delivery = client.post(f"{API}/{first.json()['id']}/test", headers=owner).json()
    assert sender_pool().wait_idle(20)
    login(client, tenant.owner)
    csrf = csrf_from(client.get("/").text)
    for endpoint_id in (second.json()["id"], theirs.json()["id"], 2_000_000_000):
        assert client.post(f"{API}/{endpoint_id}/deliveries/{delivery['id']}/retry",
                           headers=owner).status_code == 404
        assert client.post(f"/settings/webhooks/{endpoint_id}/deliveries/{delivery['id']}/retry",
                           data={"csrf_token": csrf}).status_code == 404
    for path in (f"{API}/{theirs.json()['id']}", f"{API}/{theirs.json()['id']}/deliveries"):
        assert client.get(path, headers=owner).status_code == 404
    assert client.get(f"/settings/webhooks/{theirs.json()['id']}").status_code == 404
    assert client.post(f"{API}/{first.json()['id']}/deliveries/{delivery['id']}/retry",
                       headers=owner).status_code == 202

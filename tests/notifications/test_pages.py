"""The bell, the Notifications page and the settings page: per-member read state, what a
viewer's bell counts, and another account's notifications never showing."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant, csrf_from, login, make_card_in_review, make_tenant
from web4os.notifications.events import Event
from web4os.notifications.models import Notification, NotificationSettings
from web4os.notifications.service import notify


def _bell(client: TestClient) -> int:
    html = client.get("/notifications/bell").text
    m = re.search(r'id="bell-count"[^>]*>(\d+)<', html)
    assert m, html
    hidden = re.search(r'id="bell-count" hidden', html) is not None
    return 0 if hidden else int(m.group(1))


def _seed(db: Session, tenant: Tenant) -> None:
    make_card_in_review(db, tenant, "A draft")  # card.needs_review: actionable
    notify(db, tenant.id, Event.GOAL_COMPLETED, title="Newsletter done", link="/goals/1")
    db.commit()


def test_the_bell_counts_unread_and_mark_read_lowers_it(client: TestClient, db: Session,
                                                        tenant: Tenant) -> None:
    _seed(db, tenant)
    login(client, tenant.operator)
    home = client.get("/")
    assert 'id="bell"' in home.text and _bell(client) == 2
    page = client.get("/notifications")
    assert "Newsletter done" in page.text and "needs your review" in page.text
    newest = db.scalars(select(Notification.id).where(Notification.account_id == tenant.id)
                        .order_by(Notification.id.desc())).first()
    resp = client.post(f"/notifications/{newest}/read",
                       data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert resp.status_code == 303
    assert _bell(client) == 1
    client.post(f"/notifications/{newest}/read", data={"csrf_token": csrf_from(page.text)})
    assert _bell(client) == 1  # reading twice changes nothing
    client.post("/notifications/read-all", data={"csrf_token": csrf_from(page.text)})
    assert _bell(client) == 0
    db.rollback()
    notify(db, tenant.id, Event.CREDITS_LOW, title="Credits are low: 90 left")
    db.commit()
    assert _bell(client) == 1  # what comes after "mark all read" is new again


def test_read_state_is_per_member(client: TestClient, db: Session, tenant: Tenant) -> None:
    _seed(db, tenant)
    login(client, tenant.owner)
    client.post("/notifications/read-all", data={"csrf_token": csrf_from(client.get("/").text)})
    assert _bell(client) == 0
    client.cookies.clear()
    login(client, tenant.operator)
    assert _bell(client) == 2


def test_a_viewer_sees_requests_to_act_but_is_not_nagged(client: TestClient, db: Session,
                                                        tenant: Tenant) -> None:
    _seed(db, tenant)
    login(client, tenant.viewer)
    assert _bell(client) == 1  # the goal completed, not the review they cannot give
    page = client.get("/notifications").text
    assert "needs your review" in page and "Newsletter done" in page


def test_another_accounts_notifications_never_show(client: TestClient, db: Session,
                                                   tenant: Tenant) -> None:
    other = make_tenant(db, "Other Co")
    notify(db, other.id, Event.GOAL_COMPLETED, title="Other's secret goal done")
    db.commit()
    theirs = db.scalars(select(Notification.id).where(Notification.account_id == other.id)).one()
    login(client, tenant.owner)
    csrf = csrf_from(client.get("/").text)
    assert "Other's secret" not in client.get("/notifications").text
    assert _bell(client) == 0
    resp = client.post(f"/notifications/{theirs}/read", data={"csrf_token": csrf})
    assert resp.status_code == 404
    db.rollback()
    assert db.scalars(select(NotificationSettings)).all() == []


def test_settings_say_when_email_is_off_and_save_choices(client: TestClient, db: Session,
                                                        tenant: Tenant) -> None:
    login(client, tenant.operator)
    page = client.get("/notifications/settings")
    assert page.status_code == 200 and "Email is off" in page.text
    assert "low_credit_threshold" not in page.text  # an owner's setting
    resp = client.post("/notifications/settings", data={
        "csrf_token": csrf_from(page.text), "events": ["card.failed", "goal.completed"],
        "digest": "60"}, follow_redirects=False)
    assert resp.status_code == 303
    db.rollback()
    row = db.scalars(select(NotificationSettings)).one()
    assert (sorted(row.mail_events or []), row.digest_minutes) == (
        ["card.failed", "goal.completed"], 60)
    bad = client.post("/notifications/settings", data={
        "csrf_token": csrf_from(page.text), "events": ["card.failed"], "digest": "7"})
    assert bad.status_code == 400 and "how often" in bad.text
    refused = client.post("/notifications/settings/threshold", data={
        "csrf_token": csrf_from(page.text), "low_credit_threshold": "5"})
    assert refused.status_code == 403


def test_an_owner_sets_the_low_credit_threshold(client: TestClient, db: Session,
                                                tenant: Tenant) -> None:
    login(client, tenant.owner)
    page = client.get("/notifications/settings")
    assert 'name="low_credit_threshold"' in page.text
    csrf = csrf_from(page.text)
    resp = client.post("/notifications/settings/threshold",
                       data={"csrf_token": csrf, "low_credit_threshold": "250"},
                       follow_redirects=False)
    assert resp.status_code == 303
    db.rollback()
    db.refresh(tenant.account)
    assert tenant.account.low_credit_threshold == 250
    bad = client.post("/notifications/settings/threshold",
                      data={"csrf_token": csrf, "low_credit_threshold": "-3"})
    assert bad.status_code == 400 and "whole number" in bad.text


def test_the_api_lists_and_sets_for_the_tokens_member(client: TestClient, db: Session,
                                                      tenant: Tenant) -> None:
    from web4os.accounts.models import Role
    from web4os.accounts.tokens import create_token
    from web4os.tenancy import bind_account

    _seed(db, tenant)
    other = make_tenant(db, "Other Co")
    notify(db, other.id, Event.GOAL_COMPLETED, title="Other's secret goal done")
    bind_account(db, tenant.id)
    secret = create_token(db, tenant.ctx(), name="n", role=Role.VIEWER).secret
    db.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    listed = client.get("/api/v1/notifications", headers=headers).json()
    assert [n["title"] for n in listed] == ["Newsletter done", "“Task a” needs your review"]
    assert all(n["unread"] for n in listed)
    resp = client.put("/api/v1/notifications/settings", headers=headers,
                      json={"mail_events": ["credits.low"], "digest_minutes": 1440})
    assert resp.status_code == 200, resp.text
    assert client.get("/api/v1/notifications/settings", headers=headers).json() == {
        "mail_events": ["credits.low"], "digest_minutes": 1440}
    bad = client.put("/api/v1/notifications/settings", headers=headers,
                     json={"mail_events": ["nope"], "digest_minutes": 0})
    assert bad.status_code == 422

"""The API routes that give the pages' actions to scripts: the roster, knowledge notes,
the request for credits, read marks and the low-credit threshold. Same roles, same
messages as the pages, and another account's ids answer 404."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.api.helpers import bearer, role_tokens
from tests.factories import Tenant, make_tenant
from web4os.agents.models import Agent, Note
from web4os.credits.models import TopUpRequest
from web4os.notifications.events import Event
from web4os.notifications.models import Notification
from web4os.notifications.service import notify
from web4os.tenancy import bind_account, scoped

NEW_AGENT = {"slug": "florist", "name": "Florist", "role": "Arranges bouquets",
             "instructions": "Seasonal flowers only."}


def test_owners_keep_the_roster_others_read_it(client: TestClient, db: Session,
                                               tenant: Tenant) -> None:
    tokens = role_tokens(db, tenant)
    for role in ("operator", "viewer"):
        refused = client.post("/api/v1/agents", headers=bearer(tokens[role]), json=NEW_AGENT)
        assert refused.status_code == 403, role
        assert client.get("/api/v1/agents", headers=bearer(tokens[role])).status_code == 200
    owner = bearer(tokens["owner"])
    made = client.post("/api/v1/agents", headers=owner, json=NEW_AGENT)
    assert made.status_code == 201, made.text
    agent = made.json()
    assert agent["slug"] == "florist" and agent["enabled"] and agent["tools"]
    twice = client.post("/api/v1/agents", headers=owner, json=NEW_AGENT)
    assert twice.status_code == 409 and twice.json() == {
        "detail": "An agent called “florist” already exists.", "field": "slug"}
    bad = client.post("/api/v1/agents", headers=owner, json={**NEW_AGENT, "slug": "Bad Slug"})
    assert bad.status_code == 422 and bad.json()["field"] == "slug"
    assert bad.json()["detail"] == ("Use lower-case letters, digits, - or _ for the handle "
                                    "(max 40).")

    edited = client.patch(f"/api/v1/agents/{agent['id']}", headers=owner,
                          json={"role": "Arranges wedding bouquets", "tools": []})
    assert edited.json()["role"] == "Arranges wedding bouquets"
    assert edited.json()["name"] == "Florist" and edited.json()["tools"] == []
    blank = client.patch(f"/api/v1/agents/{agent['id']}", headers=owner, json={"name": " "})
    assert blank.status_code == 422 and blank.json()["detail"] == "Give the agent a name."
    off = client.post(f"/api/v1/agents/{agent['id']}/disable", headers=owner)
    assert off.json()["enabled"] is False
    assert client.post(f"/api/v1/agents/{agent['id']}/enable",
                       headers=owner).json()["enabled"] is True
    ceo = db.scalars(scoped(Agent, tenant.id).where(Agent.is_ceo.is_(True))).one()
    kept = client.post(f"/api/v1/agents/{ceo.id}/disable", headers=owner)
    assert kept.status_code == 422
    assert kept.json()["detail"] == "The CEO agent plans every goal and cannot be disabled."


def test_operators_keep_notes_viewers_read_them(client: TestClient, db: Session,
                                                tenant: Tenant) -> None:
    tokens = role_tokens(db, tenant)
    viewer, operator = bearer(tokens["viewer"]), bearer(tokens["operator"])
    assert client.post("/api/v1/notes", headers=viewer,
                       json={"title": "Hours"}).status_code == 403
    made = client.post("/api/v1/notes", headers=operator,
                       json={"title": "Hours", "body": "8-18 on weekdays"})
    assert made.status_code == 201
    note_id = made.json()["id"]
    assert [n["title"] for n in client.get("/api/v1/notes", headers=viewer).json()] == ["Hours"]
    changed = client.put(f"/api/v1/notes/{note_id}", headers=operator,
                         json={"title": "Opening hours", "body": "9-17"})
    assert changed.json()["title"] == "Opening hours"
    untitled = client.put(f"/api/v1/notes/{note_id}", headers=operator, json={"title": " "})
    assert untitled.status_code == 422
    assert untitled.json() == {"detail": "Give the note a title.", "field": "title"}
    assert client.delete(f"/api/v1/notes/{note_id}", headers=viewer).status_code == 403
    assert client.delete(f"/api/v1/notes/{note_id}", headers=operator).status_code == 204
    assert client.get(f"/api/v1/notes/{note_id}", headers=viewer).status_code == 404


def test_an_owner_asks_for_credits_once(client: TestClient, db: Session,
                                        tenant: Tenant) -> None:
    tokens = role_tokens(db, tenant)
    assert client.post("/api/v1/credits/requests", headers=bearer(tokens["operator"]),
                       json={}).status_code == 403
    first = client.post("/api/v1/credits/requests", headers=bearer(tokens["owner"]),
                        json={"note": "Busy season"})
    again = client.post("/api/v1/credits/requests", headers=bearer(tokens["owner"]), json={})
    assert first.status_code == 201 and first.json()["id"] == again.json()["id"]
    db.rollback()
    assert len(db.scalars(scoped(TopUpRequest, tenant.id)).all()) == 1


def test_each_member_marks_their_own_notifications_read(client: TestClient, db: Session,
                                                        tenant: Tenant) -> None:
    tokens = role_tokens(db, tenant)
    bind_account(db, tenant.id)
    for n in range(2):
        notify(db, tenant.id, Event.GOAL_COMPLETED, title=f"Goal {n} done", link="/")
    db.commit()
    viewer, owner = bearer(tokens["viewer"]), bearer(tokens["owner"])
    first = client.get("/api/v1/notifications", headers=viewer).json()[0]["id"]
    assert client.post(f"/api/v1/notifications/{first}/read",
                       headers=viewer).json() == {"unread": 1}
    assert client.post("/api/v1/notifications/read-all", headers=viewer).json() == {"unread": 0}
    assert sum(n["unread"] for n in client.get("/api/v1/notifications",
                                               headers=owner).json()) == 2


def test_only_owners_set_the_low_credit_threshold(client: TestClient, db: Session,
                                                  tenant: Tenant) -> None:
    tokens = role_tokens(db, tenant)
    url = "/api/v1/notifications/low-credit-threshold"
    assert client.put(url, headers=bearer(tokens["operator"]),
                      json={"low_credit_threshold": 5}).status_code == 403
    assert client.put(url, headers=bearer(tokens["owner"]),
                      json={"low_credit_threshold": 250}).json() == {"low_credit_threshold": 250}
    assert client.get(url, headers=bearer(tokens["viewer"])).json() == {
        "low_credit_threshold": 250}
    refused = client.put(url, headers=bearer(tokens["owner"]),
                         json={"low_credit_threshold": -1})
    assert refused.status_code == 422 and refused.json()["field"] == "low_credit_threshold"


def test_another_accounts_ids_answer_404(client: TestClient, db: Session,
                                         tenant: Tenant) -> None:
    other = make_tenant(db, "Other Co")
    bind_account(db, other.id)
    note = Note(account_id=other.id, title="Secret recipe", body="…")
    db.add(note)
    notify(db, other.id, Event.GOAL_COMPLETED, title="Other done", link="/")
    db.commit()
    agent = db.scalars(scoped(Agent, other.id)).first()
    assert agent is not None
    notification = db.scalars(select(Notification).where(
        Notification.account_id == other.id)).one()
    # read while bound to the other account: row-level security hides them afterwards
    agent_id, note_id, notification_id = agent.id, note.id, notification.id
    owner = bearer(role_tokens(db, tenant)["owner"])
    for method, path, body in (
            ("GET", f"/api/v1/agents/{agent_id}", None),
            ("PATCH", f"/api/v1/agents/{agent_id}", {"name": "Mine"}),
            ("POST", f"/api/v1/agents/{agent_id}/disable", None),
            ("POST", f"/api/v1/agents/{agent_id}/enable", None),
            ("GET", f"/api/v1/notes/{note_id}", None),
            ("PUT", f"/api/v1/notes/{note_id}", {"title": "Mine"}),
            ("DELETE", f"/api/v1/notes/{note_id}", None),
            ("POST", f"/api/v1/notifications/{notification_id}/read", None)):
        resp = client.request(method, path, headers=owner, json=body)
        assert resp.status_code == 404, (method, path, resp.text)
        assert "Secret" not in resp.text


def test_a_request_the_schema_refuses_names_its_field(client: TestClient, db: Session,
                                                      tenant: Tenant) -> None:
    """Request validation answers like every other 4xx: the message in words, ``field``
    naming what to fix, and each refused part with its location as a list."""
    owner = bearer(role_tokens(db, tenant)["owner"])
    empty = client.post("/api/v1/goals", headers=owner, json={"title": ""})
    assert empty.status_code == 422
    body = empty.json()
    assert body["field"] == "title"
    assert body["detail"].startswith("title: Give the goal a title"), body["detail"]
    assert body["errors"][0]["loc"] == ["body", "title"]
    nested = client.put("/api/v1/budgets", headers=owner, json={"monthly_budget": "lots"})
    assert nested.status_code == 422 and nested.json()["field"] == "monthly_budget"
    no_body = client.post("/api/v1/goals", headers=owner)
    assert no_body.status_code == 422 and "field" not in no_body.json(), no_body.json()

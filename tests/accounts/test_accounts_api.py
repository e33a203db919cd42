"""The accounts API: the same rules and messages as the Settings pages."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_tenant
from web4os.accounts import tokens
from web4os.accounts.models import AccountStatus, Role


def _bearer(db: Session, tenant: Tenant, role: Role) -> dict[str, str]:
    secret = tokens.create_token(db, tenant.ctx(), name=f"t {role.value}", role=role).secret
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_owner_manages_the_account_members_invites_and_tokens(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    owner = _bearer(db, tenant, Role.OWNER)
    resp = client.patch("/api/v1/account", json={"time_zone": "Moon/Base"}, headers=owner)
    assert resp.status_code == 422 and "time_zone" in str(resp.json())
    resp = client.patch("/api/v1/account", json={"name": "Acme Bakes",
                                                 "time_zone": "europe/rome"}, headers=owner)
    assert resp.json()["name"] == "Acme Bakes" and resp.json()["time_zone"] == "Europe/Rome"

    people = client.get("/api/v1/members", headers=owner).json()
    assert {p["role"] for p in people} == {"owner", "operator", "viewer"}
    owner_row = next(p for p in people if p["role"] == "owner")
    resp = client.put(f"/api/v1/members/{owner_row['id']}/role", json={"role": "viewer"},
                      headers=owner)
    assert resp.status_code == 409 and "only owner" in resp.json()["detail"]
    viewer_row = next(p for p in people if p["role"] == "viewer")
    resp = client.put(f"/api/v1/members/{viewer_row['id']}/role", json={"role": "boss"},
                      headers=owner)
    assert resp.status_code == 422 and "Pick a role" in str(resp.json())
    assert client.put(f"/api/v1/members/{viewer_row['id']}/role", json={"role": "operator"},
                      headers=owner).json()["role"] == "operator"

    bad = client.post("/api/v1/invites", json={"email": "nope", "role": "viewer"}, headers=owner)
    assert bad.status_code == 422 and "email" in str(bad.json())
    made = client.post("/api/v1/invites", json={"email": "new@example.com", "role": "viewer"},
                       headers=owner).json()
    assert made["url"].startswith("http://testserver/invite/")
    listed = client.get("/api/v1/invites", headers=owner).json()
    assert [i["email"] for i in listed] == ["new@example.com"] and listed[0]["url"] is None
    assert client.delete(f"/api/v1/invites/{made['id']}", headers=owner).status_code == 204
    assert client.get("/api/v1/invites", headers=owner).json() == []

    new = client.post("/api/v1/tokens", json={"name": "Zapier", "role": "viewer"},
                      headers=owner).json()
    assert new["secret"].startswith("w4_")
    zapier = {"Authorization": f"Bearer {new['secret']}"}
    assert client.get("/api/v1/me", headers=zapier).status_code == 200
    assert all(t["secret"] is None for t in client.get("/api/v1/tokens", headers=owner).json())
    assert client.delete(f"/api/v1/tokens/{new['id']}", headers=owner).status_code == 204
    assert client.get("/api/v1/me", headers=zapier).status_code == 401
    resp = client.post("/api/v1/tokens", json={"name": " ", "role": "viewer"}, headers=owner)
    assert resp.status_code == 422 and "Name the token" in str(resp.json())


def test_operators_and_viewers_are_refused(client: TestClient, db: Session,
                                           tenant: Tenant) -> None:
    for role in (Role.OPERATOR, Role.VIEWER):
        headers = _bearer(db, tenant, role)
        for method, path in (("get", "/api/v1/members"), ("get", "/api/v1/tokens"),
                             ("post", "/api/v1/tokens"), ("delete", "/api/v1/tokens/1"),
                             ("patch", "/api/v1/account")):
            resp = client.request(method, path, headers=headers,
                                  json={"name": "x", "role": "owner"})
            assert resp.status_code == 403, (role, method, path)
            assert "needs owner" in resp.json()["detail"]


def test_another_accounts_rows_answer_404(client: TestClient, db: Session,
                                          tenant: Tenant) -> None:
    other = make_tenant(db, "Other")
    theirs = tokens.create_token(db, other.ctx(), name="theirs", role=Role.VIEWER)
    db.commit()
    owner = _bearer(db, tenant, Role.OWNER)
    their_member = other.account.memberships[0].id
    assert client.delete(f"/api/v1/tokens/{theirs.row.id}", headers=owner).status_code == 404
    assert client.put(f"/api/v1/members/{their_member}/role", json={"role": "viewer"},
                      headers=owner).status_code == 404
    assert client.delete(f"/api/v1/members/{their_member}", headers=owner).status_code == 404


def test_a_suspended_account_may_take_access_away_but_not_give_it(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    owner = _bearer(db, tenant, Role.OWNER)
    token_id = client.post("/api/v1/tokens", json={"name": "old", "role": "viewer"},
                           headers=owner).json()["id"]
    tenant.account.status = AccountStatus.SUSPENDED
    db.commit()
    assert client.post("/api/v1/tokens", json={"name": "new", "role": "viewer"},
                       headers=owner).status_code == 403
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=owner).status_code == 204

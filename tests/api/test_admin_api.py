"""The platform admins' API (admin tokens): accounts, credits exactly once, suspension,
the workers' share, archives and deletion; and the wall between the two kinds of token."""

from __future__ import annotations

import io
import re
import zipfile

from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.api.helpers import admin_token, bearer, make_admin, role_tokens
from tests.factories import Tenant, csrf_from, login
from web4os.accounts.models import Account, AccountStatus
from web4os.admin.models import AdminToken
from web4os.agents import service as agents
from web4os.credits.models import CreditLedgerEntry
from web4os.tenancy import AccountId


def test_an_admin_token_is_refused_on_every_tenant_route(client: TestClient, db: Session,
                                                          tenant: Tenant) -> None:
    headers = bearer(admin_token(db))
    for method, path in (("GET", "/api/v1/me"), ("GET", "/api/v1/goals"),
                         ("POST", "/api/v1/goals"), ("GET", "/api/v1/tokens")):
        resp = client.request(method, path, headers=headers, json={"title": "x"})
        assert resp.status_code == 403, (method, path, resp.text)
        assert "admin token" in resp.json()["detail"]


def test_account_tokens_get_403_on_admin_routes(client: TestClient, db: Session,
                                                tenant: Tenant) -> None:
    for secret in role_tokens(db, tenant).values():
        for method, path in (("GET", "/api/v1/admin/accounts"),
                             ("POST", f"/api/v1/admin/accounts/{tenant.id}/suspend"),
                             ("GET", "/api/v1/admin/tokens")):
            resp = client.request(method, path, headers=bearer(secret))
            assert resp.status_code == 403, (method, path, resp.text)
            assert "admin token" in resp.json()["detail"]
    db.rollback()
    assert db.get(Account, tenant.id).status == AccountStatus.ACTIVE  # type: ignore[union-attr]
    assert client.get("/api/v1/admin/accounts").status_code == 401


def test_a_revoked_token_or_a_demoted_admin_stops_working(client: TestClient,
                                                          db: Session) -> None:
    admin = make_admin(db)
    secret = admin_token(db, admin)
    assert client.get("/api/v1/admin/accounts", headers=bearer(secret)).status_code == 200
    token_id = db.scalars(select(AdminToken.id)).one()
    assert client.delete(f"/api/v1/admin/tokens/{token_id}",
                         headers=bearer(secret)).status_code == 204
    assert client.get("/api/v1/admin/accounts", headers=bearer(secret)).status_code == 401

    db.rollback()
    other = admin_token(db, admin)
    admin.is_platform_admin = False
    db.commit()
    assert client.get("/api/v1/admin/accounts", headers=bearer(other)).status_code == 401


def test_tokens_are_stored_hashed_and_shown_once(client: TestClient, db: Session) -> None:
    headers = bearer(admin_token(db))
    made = client.post("/api/v1/admin/tokens", headers=headers, json={"name": "Billing"})
    assert made.status_code == 201
    secret = made.json()["secret"]
    assert secret.startswith("w4a_")
    listed = client.get("/api/v1/admin/tokens", headers=headers).json()
    assert all(t["secret"] is None for t in listed) and secret not in str(listed)
    stored = db.scalars(select(AdminToken.token_hash)).all()
    assert secret not in stored and len(stored) == 2
    refused = client.post("/api/v1/admin/tokens", headers=headers, json={"name": "  "})
    assert refused.status_code == 422 and refused.json()["field"] == "name"


def test_the_console_makes_and_revokes_admin_tokens(client: TestClient, db: Session) -> None:
    admin = make_admin(db)
    login(client, admin)
    page = client.get("/admin/tokens")
    assert page.status_code == 200
    made = client.post("/admin/tokens", data={"csrf_token": csrf_from(page.text),
                                              "name": "Nightly report"})
    assert made.status_code == 200 and "w4a_" in made.text
    secret = made.text.split('value="w4a_', 1)[1].split('"', 1)[0]
    assert client.get("/api/v1/admin/accounts",
                      headers=bearer("w4a_" + secret)).status_code == 200
    db.rollback()
    token_id = db.scalars(select(AdminToken.id)).one()
    client.post(f"/admin/tokens/{token_id}/revoke",
                data={"csrf_token": csrf_from(page.text)})
    assert client.get("/api/v1/admin/accounts",
                      headers=bearer("w4a_" + secret)).status_code == 401


def test_list_search_and_get_accounts(client: TestClient, db: Session, tenant: Tenant) -> None:
    headers = bearer(admin_token(db))
    found = client.get("/api/v1/admin/accounts", headers=headers, params={"q": "bakery"})
    assert [a["id"] for a in found.json()] == [tenant.id]
    assert found.json()[0]["owner_emails"] == [tenant.owner.email]
    assert client.get("/api/v1/admin/accounts", headers=headers,
                      params={"q": "nothing like it"}).json() == []
    one = client.get(f"/api/v1/admin/accounts/{tenant.id}", headers=headers).json()
    assert one["name"] == "Acme Bakery" and one["credit_balance"] == 1000
    assert client.get("/api/v1/admin/accounts/999999", headers=headers).status_code == 404


def test_create_a_concierge_account_with_its_owner_link(client: TestClient,
                                                        db: Session) -> None:
    headers = bearer(admin_token(db))
    resp = client.post("/api/v1/admin/accounts", headers=headers, json={
        "name": "Flora's Flowers", "email": "flora@example.com", "credit_allowance": 2500,
        "plan_notes": "Weekly posts"})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["account"]["kind"] == "concierge" and body["account"]["credit_balance"] == 2500
    assert body["account"]["invited_owner_emails"] == ["flora@example.com"]
    assert "/invite/" in body["owner_invite"]["url"]
    refused = client.post("/api/v1/admin/accounts", headers=headers, json={
        "name": "", "email": "x@example.com"})
    assert refused.status_code == 422 and refused.json()["field"] == "name"
    assert refused.json()["detail"] == "Name the customer's business."
    again = client.post(f"/api/v1/admin/accounts/{body['account']['id']}/owner-invites",
                        headers=headers, json={"email": "partner@example.com"})
    assert again.status_code == 201 and "/invite/" in again.json()["url"]


def test_a_concierge_account_starts_from_the_playbook_the_admin_picks(
        client: TestClient, db: Session) -> None:
    headers = bearer(admin_token(db))
    keys = [s["key"] for s in client.get("/api/v1/playbooks/starters").json()]
    assert "local-shop" in keys
    made = client.post("/api/v1/admin/accounts", headers=headers, json={
        "name": "Corner Shop", "email": "corner@example.com", "starter": "local-shop"})
    assert made.status_code == 201, made.text
    account_id = made.json()["account"]["id"]
    db.rollback()
    names = {a.name for a in agents.list_agents(db, AccountId(account_id))}
    blank = {a.name for a in agents.list_agents(db, AccountId(client.post(
        "/api/v1/admin/accounts", headers=headers,
        json={"name": "Plain", "email": "plain@example.com"}).json()["account"]["id"]))}
    assert names - blank, "the starter's team is not in the new account"
    refused = client.post("/api/v1/admin/accounts", headers=headers, json={
        "name": "Odd", "email": "odd@example.com", "starter": "no-such-playbook"})
    assert refused.status_code == 422 and refused.json()["field"] == "starter"


def test_a_retried_grant_is_applied_once(client: TestClient, db: Session,
                                         tenant: Tenant) -> None:
    headers = {**bearer(admin_token(db)), "Idempotency-Key": "grant-2026-12-04"}
    url = f"/api/v1/admin/accounts/{tenant.id}/credits"
    first = client.post(url, headers=headers, json={"amount": 500, "reason": "December"})
    again = client.post(url, headers=headers, json={"amount": 500, "reason": "December"})
    assert first.json() == {"applied": True, "credit_balance": 1500}
    assert again.json() == {"applied": False, "credit_balance": 1500}
    other = client.post(url, headers={**headers, "Idempotency-Key": "fix-1"},
                        json={"amount": -200, "reason": "Double grant"})
    repeat = client.post(url, headers={**headers, "Idempotency-Key": "fix-1"},
                         json={"amount": -200, "reason": "Double grant"})
    assert other.json()["credit_balance"] == 1300 and repeat.json()["applied"] is False
    assert repeat.json()["credit_balance"] == 1300
    without_reason = client.post(url, headers=bearer(headers["Authorization"][7:]),
                                 json={"amount": -1})
    assert without_reason.status_code == 422
    assert without_reason.json()["detail"] == "Say why the balance is adjusted."
    too_much = client.post(url, headers=bearer(headers["Authorization"][7:]),
                           json={"amount": 20_000_000})
    assert too_much.status_code == 422 and too_much.json()["field"] == "amount"
    db.rollback()
    assert db.scalar(select(func.count()).select_from(CreditLedgerEntry)
                     .where(CreditLedgerEntry.account_id == tenant.id)) == 3


def test_suspend_reactivate_and_share(client: TestClient, db: Session, tenant: Tenant) -> None:
    headers = bearer(admin_token(db))
    base = f"/api/v1/admin/accounts/{tenant.id}"
    assert client.post(f"{base}/suspend", headers=headers).json()["status"] == "suspended"
    owner = role_tokens(db, tenant)["owner"]
    refused = client.post("/api/v1/goals", headers=bearer(owner), json={"title": "New"})
    assert refused.status_code == 403 and "suspended" in refused.json()["detail"]
    db.rollback()
    assert client.post(f"{base}/reactivate", headers=headers).json()["status"] == "active"
    share = client.put(f"{base}/share", headers=headers,
                       json={"max_running": 3, "share_weight": 5})
    assert (share.json()["max_running"], share.json()["share_weight"]) == (3, 5)
    refused = client.put(f"{base}/share", headers=headers, json={"share_weight": 0})
    assert refused.status_code == 422 and refused.json()["field"] == "share_weight"
    assert refused.json()["detail"] == "Enter a whole number from 1 to 100."


def test_archive_and_delete_now(client: TestClient, db: Session, tenant: Tenant) -> None:
    headers = bearer(admin_token(db))
    account_id = tenant.id
    base = f"/api/v1/admin/accounts/{account_id}"
    archive = client.get(f"{base}/archive", headers=headers)
    assert archive.status_code == 200
    assert "tables/goals.jsonl" in zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    wrong = client.delete(base, headers=headers, params={"confirm": "Someone else"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "confirm"
    assert client.delete(base, headers=headers,
                         params={"confirm": "acme bakery"}).status_code == 204
    db.rollback()
    assert db.get(Account, account_id) is None
    assert client.get(base, headers=headers).status_code == 404


# Published for anyone (no token): the API's description, the playbook format and the
# starter playbooks the product ships.
PUBLIC = {"/api/v1/openapi.json", "/api/v1/playbooks/schema", "/api/v1/playbooks/starters"}


def test_every_account_route_refuses_an_admin_token(client: TestClient, db: Session,
                                                    tenant: Tenant) -> None:
    """Walked from the app's routes, so an account route added later is covered."""
    headers = bearer(admin_token(db))
    walked = 0
    for rc in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        path = rc.path_format or rc.path or ""
        if (not isinstance(rc.original_route, APIRoute) or not path.startswith("/api/v1/")
                or path.startswith("/api/v1/admin/") or path in PUBLIC):
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: "approve" if m.group(1) == "decision" else "1",
                     path)
        for method in sorted((rc.original_route.methods or set()) - {"HEAD"}):
            resp = client.request(method, url, headers=headers)
            assert resp.status_code == 403, f"{method} {url} → {resp.status_code}"
            assert "admin token" in resp.json()["detail"]
            walked += 1
    assert walked >= 80

"""The Playbook page and API: owners only, another account's preview not found, errors with
line and field, and the starters offered at signup and at concierge creation."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import PASSWORD, Tenant, csrf_from, login, make_tenant
from web4os.accounts import service as accounts
from web4os.accounts import tokens
from web4os.accounts.models import Account, Role
from web4os.agents.models import Agent, Note
from web4os.routines.models import Routine, RoutineStatus

YAML = {"Content-Type": "application/yaml"}
DOC = ("playbook: 1\nroster:\n  - handle: poet\n    name: Poet\n    role: Writes poems\n"
       "    instructions: Rhyme when it helps.\nnotes:\n  - title: Style\n    body: Short.\n"
       "routines:\n  - title: Weekly poem\n    preset: mondays\n    at: '09:00'\n")


def _token(db: Session, tenant: Tenant, role: Role) -> dict[str, str]:
    secret = tokens.create_token(db, tenant.ctx(), name=f"playbooks {role.value}",
                                 role=role).secret
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


def _agents(db: Session, tenant: Tenant) -> set[str]:
    db.rollback()
    return {a.name for a in db.scalars(select(Agent).where(Agent.account_id == tenant.id))}


def test_api_preview_import_and_export_for_owners(client: TestClient, db: Session,
                                                  tenant: Tenant) -> None:
    owner = _token(db, tenant, Role.OWNER)
    preview = client.post("/api/v1/playbooks/preview?on_collision=skip", content=DOC,
                          headers={**owner, **YAML})
    assert preview.status_code == 200, preview.text
    plan = preview.json()
    assert plan["applied"] is False and plan["on_collision"] == "skip"
    roster = next(s for s in plan["sections"] if s["section"] == "roster")
    assert [i["name"] for i in roster["create"]] == ["Poet"]
    assert "Poet" not in _agents(db, tenant)
    done = client.post("/api/v1/playbooks/import", content=DOC, headers={**owner, **YAML})
    assert done.status_code == 200 and done.json()["applied"] is True
    assert "Poet" in _agents(db, tenant)
    routine = db.scalars(select(Routine).where(Routine.account_id == tenant.id)).one()
    assert routine.status == RoutineStatus.PAUSED
    exported = client.get("/api/v1/playbooks/export?files=embed", headers=owner)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/yaml")
    assert "handle: poet" in exported.text and "title: Weekly poem" in exported.text
    assert client.get("/api/v1/playbooks/export?files=zip", headers=owner).status_code == 422


def test_api_errors_name_line_and_field_and_import_nothing(client: TestClient, db: Session,
                                                           tenant: Tenant) -> None:
    owner = _token(db, tenant, Role.OWNER)
    bad = DOC.replace("instructions: Rhyme when it helps.", "instructions: <b>Rhyme</b>")
    resp = client.post("/api/v1/playbooks/import", content=bad, headers={**owner, **YAML})
    assert resp.status_code == 422
    body = resp.json()
    assert body["field"] == "playbook" and body["errors"] == [{
        "line": 6, "field": "roster[0].instructions",
        "message": "Write plain text, without HTML: remove “<b>”."}]
    assert body["detail"].startswith("line 6, roster[0].instructions:")
    assert "Poet" not in _agents(db, tenant)
    assert db.scalars(select(Note).where(Note.account_id == tenant.id)).first() is None
    policy = client.post("/api/v1/playbooks/preview?on_collision=merge", content=DOC,
                         headers={**owner, **YAML})
    assert policy.status_code == 422


def test_api_roles_owner_only(client: TestClient, db: Session, tenant: Tenant) -> None:
    for role in (Role.OPERATOR, Role.VIEWER):
        headers = _token(db, tenant, role)
        assert client.get("/api/v1/playbooks/export", headers=headers).status_code == 403
        for path in ("preview", "import"):
            resp = client.post(f"/api/v1/playbooks/{path}", content=DOC,
                               headers={**headers, **YAML})
            assert resp.status_code == 403, (role, path)
    assert client.get("/api/v1/playbooks/export").status_code == 401
    assert "Poet" not in _agents(db, tenant)


def test_the_schema_is_published(client: TestClient) -> None:
    schema = client.get("/api/v1/playbooks/schema").json()
    assert schema["title"] == "web4os playbook" and "roster" in schema["properties"]
    starters = client.get("/api/v1/playbooks/starters").json()
    assert [s["key"] for s in starters] == ["consulting-onboarding", "local-shop", "online-store"]
    ops = client.get("/api/v1/openapi.json").json()["paths"]
    assert ops["/api/v1/playbooks/import"]["post"]["operationId"] == "import_playbook"
    assert ops["/api/v1/playbooks/preview"]["post"]["tags"] == ["playbooks"]


def _preview_page(client: TestClient, doc: str, policy: str = "rename") -> str:
    page = client.get("/playbook")
    assert page.status_code == 200
    resp = client.post("/playbook/preview", data={
        "csrf_token": csrf_from(page.text), "on_collision": policy},
        files={"files": ("playbook.yaml", doc.encode(), "application/yaml")})
    assert resp.status_code == 200, resp.text
    return resp.text


def test_page_preview_then_import(client: TestClient, db: Session, tenant: Tenant) -> None:
    login(client, tenant.owner)
    html = _preview_page(client, DOC)
    assert "Preview: nothing has changed yet" in html and "Poet" in html
    assert "Poet" not in _agents(db, tenant)
    preview_id = re.search(r'name="preview_id" value="([0-9a-f]{64})"', html)
    assert preview_id
    done = client.post("/playbook/import", data={
        "csrf_token": csrf_from(html), "preview_id": preview_id.group(1),
        "on_collision": "rename"})
    assert done.status_code == 200 and "Playbook imported" in done.text
    assert "Poet" in _agents(db, tenant)
    again = client.post("/playbook/import", data={
        "csrf_token": csrf_from(html), "preview_id": preview_id.group(1),
        "on_collision": "rename"})
    assert again.status_code == 404  # the pending document went with the import


def test_page_errors_are_listed_with_lines(client: TestClient, db: Session,
                                           tenant: Tenant) -> None:
    login(client, tenant.owner)
    page = client.get("/playbook")
    resp = client.post("/playbook/preview", data={
        "csrf_token": csrf_from(page.text), "on_collision": "rename",
        "document": "playbook: 1\nroster:\n  - handle: poet\n    name: Poet\n"})
    assert resp.status_code == 422
    assert "line 3, roster[0].role: This field is required." in resp.text
    assert "handle: poet" in resp.text  # the pasted text is kept


def test_another_accounts_preview_is_not_found(client: TestClient, db: Session,
                                               tenant: Tenant) -> None:
    other = make_tenant(db, "Other")
    db.commit()
    login(client, other.owner)
    html = _preview_page(client, DOC)
    preview_id = re.search(r'name="preview_id" value="([0-9a-f]{64})"', html)
    assert preview_id
    client.cookies.clear()
    login(client, tenant.owner)
    page = client.get("/playbook")
    resp = client.post("/playbook/import", data={
        "csrf_token": csrf_from(page.text), "preview_id": preview_id.group(1),
        "on_collision": "rename"})
    assert resp.status_code == 404
    assert "Poet" not in _agents(db, tenant) | _agents(db, other)


def test_pages_are_for_owners(client: TestClient, db: Session, tenant: Tenant) -> None:
    for user in (tenant.operator, tenant.viewer):
        client.cookies.clear()
        login(client, user)
        assert client.get("/playbook").status_code == 403
        assert client.get("/playbook/export").status_code == 403
    client.cookies.clear()
    login(client, tenant.owner)
    resp = client.get("/playbook/export?files=reference")
    assert resp.status_code == 200 and "attachment" in resp.headers["content-disposition"]
    assert resp.text.startswith("# web4os playbook")


def test_signup_offers_the_starters_and_applies_the_chosen_one(client: TestClient,
                                                               db: Session) -> None:
    page = client.get("/signup")
    assert 'name="starter"' in page.text and "Online store" in page.text
    resp = client.post("/signup", data={
        "account_name": "Spokes", "display_name": "Sam", "email": "sam@example.com",
        "password": "wheels and chains 42", "starter": "local-shop",
        "csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    account = db.scalars(select(Account).where(Account.name == "Spokes")).one()
    names = {a.name for a in db.scalars(select(Agent).where(Agent.account_id == account.id))}
    assert {"Shop Writer", "Local Marketer", "Till Analyst", "CEO"} <= names
    routines = db.scalars(select(Routine).where(Routine.account_id == account.id)).all()
    assert routines and all(r.status == RoutineStatus.PAUSED for r in routines)
    assert account.monthly_budget == 3000
    client.cookies.clear()
    blank = client.get("/signup")
    refused = client.post("/signup", data={
        "account_name": "Nope", "email": "nope@example.com", "password": "wheels and chains 42",
        "starter": "casino", "csrf_token": csrf_from(blank.text)}, follow_redirects=False)
    assert refused.status_code == 400 and "Choose a starter playbook" in refused.text


def test_the_admin_picks_the_clients_playbook(client: TestClient, db: Session) -> None:
    admin = accounts.ensure_admin(db, "admin@example.com", PASSWORD)
    db.commit()
    login(client, admin)
    page = client.get("/admin/accounts/new")
    assert "consulting-onboarding" in page.text
    resp = client.post("/admin/accounts", data={
        "name": "Harbour Partners", "email": "ceo@harbour.example", "credit_allowance": "2000",
        "plan_notes": "", "starter": "consulting-onboarding",
        "csrf_token": csrf_from(page.text)})
    assert resp.status_code == 200, resp.text
    db.rollback()
    account = db.scalars(select(Account).where(Account.name == "Harbour Partners")).one()
    names = {a.name for a in db.scalars(select(Agent).where(Agent.account_id == account.id))}
    assert {"Engagement Lead", "Proposal Writer", "Project Coordinator"} <= names
    assert account.credit_balance == 2000


def test_a_held_preview_goes_with_the_account(db: Session, tenant: Tenant) -> None:
    from web4os.accountdata.deletion import delete_account
    from web4os.files import held
    from web4os.files.storage import get_storage
    from web4os.tenancy import bind_system

    held.keep(tenant.id, "playbook", DOC.encode())
    assert get_storage().exists(held.held_key(tenant.id, "playbook"))
    bind_system(db)
    delete_account(db, tenant.id)
    db.commit()
    assert not get_storage().exists(held.held_key(tenant.id, "playbook"))

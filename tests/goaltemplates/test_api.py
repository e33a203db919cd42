"""The templates JSON API: create, read, update, delete and start a goal (201 with the
goal), the same checks and messages as the forms, the roles, other accounts' ids → 404,
operation ids and the ``templates`` tag."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_tenant
from tests.goaltemplates.conftest import knowledge_file, make_template
from web4os.accounts import tokens
from web4os.accounts.models import Role
from web4os.files import service as files
from web4os.goals.models import Goal

BODY = {"name": "Client onboarding", "title": "Onboard a new client",
        "brief": "Welcome pack and first call.", "require_approval": True, "credit_cap": 80}


def _token(db: Session, tenant: Tenant, role: Role) -> dict[str, str]:
    secret = tokens.create_token(db, tenant.ctx(), name=f"templates {role.value}",
                                 role=role).secret
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_create_read_update_start_and_delete(client: TestClient, db: Session,
                                             tenant: Tenant) -> None:
    pack = knowledge_file(db, tenant, name="welcome.md", text=b"# Welcome")
    op = _token(db, tenant, Role.OPERATOR)
    made = client.post("/api/v1/templates", json={**BODY, "attachments": [pack.id]}, headers=op)
    assert made.status_code == 201, made.text
    t = made.json()
    assert (t["name"], t["credit_cap"], t["last_used_at"]) == ("Client onboarding", 80, None)
    assert t["attachments"] == [{"id": pack.id, "name": "welcome.md", "size": 9,
                                 "knowledge": True}]
    tid = t["id"]
    assert [x["id"] for x in client.get("/api/v1/templates", headers=op).json()] == [tid]
    changed = client.put(f"/api/v1/templates/{tid}", headers=op,
                         json={**BODY, "brief": "Welcome pack.", "attachments": [pack.id]})
    assert changed.status_code == 200 and changed.json()["brief"] == "Welcome pack."

    started = client.post(f"/api/v1/templates/{tid}/goals", headers=op)
    assert started.status_code == 201, started.text
    g = started.json()
    assert (g["title"], g["brief"], g["status"]) == (
        "Onboard a new client", "Welcome pack.", "planning")
    db.rollback()
    goal = db.get(Goal, g["id"])
    assert goal is not None and (goal.require_approval, goal.credit_cap) == (True, 80)
    assert [f.name for f in files.list_files(db, tenant.id, goal_id=goal.id)] == ["welcome.md"]
    adjusted = client.post(f"/api/v1/templates/{tid}/goals", headers=op,
                           json={"title": "Onboard Acme", "credit_cap": None})
    assert adjusted.status_code == 201 and adjusted.json()["title"] == "Onboard Acme"
    db.rollback()
    assert db.get(Goal, adjusted.json()["id"]).credit_cap is None  # type: ignore[union-attr]
    assert client.get(f"/api/v1/templates/{tid}", headers=op).json()["last_used_at"]

    assert client.delete(f"/api/v1/templates/{tid}", headers=op).status_code == 204
    assert client.get(f"/api/v1/templates/{tid}", headers=op).status_code == 404
    assert client.post(f"/api/v1/templates/{tid}/goals", headers=op).status_code == 404


def test_refusals_name_the_field_in_the_forms_words(client: TestClient, db: Session,
                                                    tenant: Tenant) -> None:
    make_template(db, tenant, name="Client onboarding")
    op = _token(db, tenant, Role.OPERATOR)
    taken = client.post("/api/v1/templates", json=BODY, headers=op)
    assert taken.status_code == 422
    assert taken.json()["field"] == "name" and "already a template" in taken.json()["detail"]
    no_title = client.post("/api/v1/templates", json={**BODY, "name": "x", "title": " "},
                           headers=op)
    assert no_title.status_code == 422 and "Give the goal a title" in no_title.text
    other = make_tenant(db, "Other Co")
    theirs = knowledge_file(db, other, name="secret.txt")
    foreign = client.post("/api/v1/templates", headers=op,
                          json={**BODY, "name": "y", "attachments": [theirs.id]})
    assert foreign.status_code == 422 and foreign.json()["field"] == "attachments"
    template = make_template(db, tenant, name="z")
    bad_start = client.post(f"/api/v1/templates/{template.id}/goals", headers=op,
                            json={"title": ""})
    assert bad_start.status_code == 422 and bad_start.json()["field"] == "title"


def test_roles(client: TestClient, db: Session, tenant: Tenant) -> None:
    template = make_template(db, tenant)
    viewer = _token(db, tenant, Role.VIEWER)
    assert client.get("/api/v1/templates", headers=viewer).status_code == 200
    assert client.get(f"/api/v1/templates/{template.id}", headers=viewer).status_code == 200
    assert client.post("/api/v1/templates", json=BODY, headers=viewer).status_code == 403
    assert client.put(f"/api/v1/templates/{template.id}", json=BODY,
                      headers=viewer).status_code == 403
    assert client.delete(f"/api/v1/templates/{template.id}", headers=viewer).status_code == 403
    assert client.post(f"/api/v1/templates/{template.id}/goals",
                       headers=viewer).status_code == 403
    db.rollback()
    assert db.scalars(select(Goal).where(Goal.account_id == tenant.id)).all() == []
    owner = _token(db, tenant, Role.OWNER)
    assert client.post(f"/api/v1/templates/{template.id}/goals",
                       headers=owner).status_code == 201


def test_another_accounts_template_is_404(client: TestClient, db: Session,
                                          tenant: Tenant) -> None:
    other = make_tenant(db, "Other Co")
    theirs = make_template(db, other)
    op = _token(db, tenant, Role.OWNER)
    assert client.get("/api/v1/templates", headers=op).json() == []
    assert client.get(f"/api/v1/templates/{theirs.id}", headers=op).status_code == 404
    assert client.put(f"/api/v1/templates/{theirs.id}", json=BODY, headers=op).status_code == 404
    assert client.delete(f"/api/v1/templates/{theirs.id}", headers=op).status_code == 404
    assert client.post(f"/api/v1/templates/{theirs.id}/goals", headers=op).status_code == 404
    db.rollback()
    assert db.scalars(select(Goal)).all() == []


def test_openapi_names_each_operation_under_the_templates_tag(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json")
    paths = spec.json()["paths"]
    ops = {(p, m): op for p, methods in paths.items() if p.startswith("/api/v1/templates")
           for m, op in methods.items()}
    assert {op["operationId"] for op in ops.values()} == {
        "list_templates", "create_template", "get_template", "update_template",
        "delete_template", "start_goal_from_template"}
    assert all(op["tags"] == ["templates"] for op in ops.values())
    created = ops[("/api/v1/templates/{template_id}/goals", "post")]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("/GoalOut")

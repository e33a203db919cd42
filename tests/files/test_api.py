"""The files API: upload, list, download and delete with the roles of the pages, and
another account's files answering 404 on every route."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_goal, make_tenant
from tests.files import samples
from web4os.accounts import tokens
from web4os.accounts.models import Role
from web4os.config import get_settings
from web4os.files import service
from web4os.files.storage import get_storage


def _bearer(db: Session, tenant: Tenant, role: Role) -> dict[str, str]:
    secret = tokens.create_token(db, tenant.ctx(), name=f"api {role.value}", role=role).secret
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_upload_list_download_delete(client: TestClient, db: Session, tenant: Tenant) -> None:
    goal = make_goal(db, tenant)
    db.commit()
    operator = _bearer(db, tenant, Role.OPERATOR)
    resp = client.post(f"/api/v1/goals/{goal.id}/files", headers=operator, files=[
        ("files", ("prices.pdf", samples.pdf("Croissant 2 EUR"), "application/pdf")),
        ("files", ("brand.docx", samples.docx("Blue logo"), "application/octet-stream"))])
    assert resp.status_code == 201, resp.text
    made = resp.json()
    assert [(f["name"], f["kind"], f["readable"]) for f in made] == [
        ("prices.pdf", "pdf", True), ("brand.docx", "docx", True)]
    listed = client.get(f"/api/v1/goals/{goal.id}/files", headers=operator).json()
    assert [f["id"] for f in listed] == [f["id"] for f in made]
    got = client.get(made[0]["download_url"], headers=operator)
    assert got.content == samples.pdf("Croissant 2 EUR")
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert client.delete(f"/api/v1/files/{made[0]['id']}", headers=operator).status_code == 204
    assert client.get(f"/api/v1/files/{made[0]['id']}", headers=operator).status_code == 404
    assert len(client.get(f"/api/v1/goals/{goal.id}/files", headers=operator).json()) == 1


def test_roles_and_clear_errors(client: TestClient, db: Session, tenant: Tenant) -> None:
    viewer = _bearer(db, tenant, Role.VIEWER)
    operator = _bearer(db, tenant, Role.OPERATOR)
    owner = _bearer(db, tenant, Role.OWNER)
    one = [("files", ("k.md", b"# Prices\nCroissant 2 EUR", "text/markdown"))]
    assert client.post("/api/v1/knowledge", headers=viewer, files=one).status_code == 403
    assert client.post("/api/v1/knowledge", headers=operator, files=one).status_code == 403
    resp = client.post("/api/v1/knowledge", headers=owner, files=one)
    assert resp.status_code == 201
    file_id = resp.json()[0]["id"]
    assert client.get("/api/v1/knowledge", headers=viewer).json()[0]["name"] == "k.md"
    assert client.get(f"/api/v1/files/{file_id}/download", headers=viewer).status_code == 200
    assert client.delete(f"/api/v1/files/{file_id}", headers=viewer).status_code == 403
    assert client.delete(f"/api/v1/files/{file_id}", headers=operator).status_code == 403
    bad = client.post("/api/v1/knowledge", headers=owner,
                      files=[("files", ("setup.pdf", samples.EXE, "application/pdf"))])
    assert bad.status_code == 422
    assert bad.json() == {"detail": "“setup.pdf” is a program, not a document; programs "
                                    "aren't accepted.", "field": "file"}


def test_another_accounts_files_are_404_on_every_api_route(client: TestClient, db: Session,
                                                            tenant: Tenant) -> None:
    other = make_tenant(db, "Other")
    their_goal = make_goal(db, other)
    theirs = service.upload(db, other.ctx(), name="secret.txt", data=b"theirs", goal=their_goal)
    knowledge = service.upload(db, other.ctx(), name="k.txt", data=b"their knowledge")
    db.commit()
    owner = _bearer(db, tenant, Role.OWNER)
    for file_id in (theirs.id, knowledge.id):
        assert client.get(f"/api/v1/files/{file_id}", headers=owner).status_code == 404
        assert client.get(f"/api/v1/files/{file_id}/download", headers=owner).status_code == 404
        assert client.delete(f"/api/v1/files/{file_id}", headers=owner).status_code == 404
    assert client.get(f"/api/v1/goals/{their_goal.id}/files", headers=owner).status_code == 404
    resp = client.post(f"/api/v1/goals/{their_goal.id}/files", headers=owner,
                       files=[("files", ("a.txt", b"x", "text/plain"))])
    assert resp.status_code == 404
    assert client.get("/api/v1/knowledge", headers=owner).json() == []
    assert get_storage().exists(theirs.storage_key) and get_storage().exists(knowledge.storage_key)


def test_oversized_uploads_get_the_limit_in_their_message(
        client: TestClient, db: Session, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_MAX_FILE_BYTES", "1000")
    get_settings.cache_clear()
    owner = _bearer(db, tenant, Role.OWNER)
    resp = client.post("/api/v1/knowledge", headers=owner,
                       files=[("files", ("a.txt", b"x" * 1500, "text/plain"))])
    assert resp.status_code == 422
    assert resp.json()["detail"] == "“a.txt” is 2 KB; files can be at most 1 KB."
    resp = client.post("/api/v1/knowledge", headers=owner,
                       files=[("files", ("a.txt", b"x" * 1_100_000, "text/plain"))])
    assert resp.status_code == 413
    assert "files can be at most 1 KB each" in resp.json()["detail"]
    assert client.get("/api/v1/knowledge", headers=owner).json() == []


def test_an_upload_without_a_file_says_so(client: TestClient, db: Session, tenant: Tenant) -> None:
    resp = client.post("/api/v1/knowledge", headers=_bearer(db, tenant, Role.OWNER))
    assert resp.status_code == 422
    assert resp.json()["detail"] == "Choose a file to upload."

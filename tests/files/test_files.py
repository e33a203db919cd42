"""Files as tenant-owned rows plus stored bytes: types told from content, limits, bad
input refused with nothing half-stored, downloads that never render, deletes that
remove the bytes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import Tenant, csrf_from, login, make_goal, make_tenant
from tests.files import samples
from web4os.accounts.models import Role
from web4os.config import get_settings
from web4os.errors import Forbidden, InvalidInput, NotFound
from web4os.files import service
from web4os.files.models import StoredFile
from web4os.files.storage import get_storage


def _count(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(StoredFile)) or 0)


def _stored_objects() -> list[str]:
    root = get_storage().root  # type: ignore[attr-defined]
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) \
        if root.exists() else []


GOOD: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "notes.txt": (lambda: b"Opening hours: 7 to 18", "text", "Opening hours"),
    "guide.md": (lambda: b"# Brand\nWarm, short sentences.", "markdown", "Warm, short"),
    "sales.csv": (lambda: b"month,sales\nOctober,1200\n", "csv", "October,1200"),
    "prices.pdf": (lambda: samples.pdf("Croissant 2 EUR"), "pdf", "Croissant 2 EUR"),
    "brand.docx": (lambda: samples.docx("Use the blue logo"), "docx", "Use the blue logo"),
    "logo.png": (lambda: samples.PNG, "image", ""),
    "no-extension": (lambda: b"plain words", "text", "plain words"),
}


@pytest.mark.parametrize("name", list(GOOD))
def test_each_kind_is_told_from_its_content(db: Session, tenant: Tenant, name: str) -> None:
    make, kind, text = GOOD[name]
    data = make()  # once: a DOCX made a second later differs (its zip holds the time)
    row = service.upload(db, tenant.ctx(), name=name, data=data)
    db.commit()
    assert (row.kind, row.account_id, row.goal_id) == (kind, tenant.id, None)
    assert text in row.text
    assert service.read_bytes(row) == data
    if kind == "image":
        assert "its model reads images" in row.unreadable_reason


BAD: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "empty": ("notes.txt", lambda: b"", "is empty"),
    "program named .pdf": ("invoice.pdf", lambda: samples.EXE, "is a program"),
    "text named .pdf": ("invoice.pdf", lambda: b"just text", "named like a PDF"),
    "pdf named .docx": ("report.docx", lambda: samples.pdf("x"), "named like a Word"),
    "encrypted pdf": ("locked.pdf", samples.encrypted_pdf, "password-protected"),
    "malformed pdf": ("broken.pdf", lambda: b"%PDF-1.4\n garbage \x00\x01", "damaged"),
    "zip bomb docx": ("bomb.docx", samples.docx_bomb, "unpacks to far more"),
    "zip, not docx": ("archive.docx", samples.plain_zip, "not a Word document"),
    "binary": ("data.bin", lambda: b"\x00\x01\x02binary", "not a kind of file"),
    "not utf-8": ("latin.txt", lambda: "café".encode("latin-1"), "not UTF-8"),
    "path name": ("../../x", lambda: b"text", "can't be a path"),
    "windows path": ("..\\..\\x.txt", lambda: b"text", "can't be a path"),
    "dots": ("..", lambda: b"text", "can't be a path"),
    "control chars": ("a\x00b.txt", lambda: b"text", "control characters"),
    "newline": ("a\nb.txt", lambda: b"text", "control characters"),
    "bidi override": ("txt.\u202eexe", lambda: b"text", "control characters"),
    "lone surrogate": ("a\ud800.txt", lambda: b"text", "control characters"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_refused_clearly_and_nothing_is_stored(db: Session, tenant: Tenant,
                                                            case: str) -> None:
    name, make, message = BAD[case]
    with pytest.raises(InvalidInput, match=message):
        service.upload(db, tenant.ctx(), name=name, data=make())
    db.rollback()
    assert _count(db) == 0
    assert _stored_objects() == []


def test_a_pdf_without_text_is_kept_and_says_why(db: Session, tenant: Tenant) -> None:
    from io import BytesIO

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    out = BytesIO()
    writer.write(out)
    row = service.upload(db, tenant.ctx(), name="scan.pdf", data=out.getvalue())
    db.commit()
    assert row.kind == "pdf" and row.text == ""
    assert "agents can't read it" in row.unreadable_reason


def test_size_limit_and_quota_each_have_their_message(db: Session, tenant: Tenant,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_MAX_FILE_BYTES", "100")
    monkeypatch.setenv("WEB4OS_STORAGE_QUOTA_BYTES", "150")
    get_settings.cache_clear()
    with pytest.raises(InvalidInput, match="is 101 bytes; files can be at most 100 bytes"):
        service.upload(db, tenant.ctx(), name="big.txt", data=b"x" * 101)
    service.upload(db, tenant.ctx(), name="a.txt", data=b"x" * 100)
    with pytest.raises(InvalidInput, match="doesn't fit: this account's files use"):
        service.upload(db, tenant.ctx(), name="b.txt", data=b"x" * 60)
    other = make_tenant(db, "Other")  # the quota is per account
    service.upload(db, other.ctx(), name="b.txt", data=b"x" * 60)
    db.commit()
    assert _count(db) == 2


def test_a_failed_transaction_leaves_no_bytes_behind(db: Session, tenant: Tenant) -> None:
    service.upload(db, tenant.ctx(), name="a.txt", data=b"first")
    assert len(_stored_objects()) == 1
    db.rollback()  # e.g. the goal form failed after its files were stored
    assert _stored_objects() == [] and _count(db) == 0


def test_deleting_removes_the_bytes_once_committed(db: Session, tenant: Tenant) -> None:
    row = service.upload(db, tenant.ctx(), name="a.txt", data=b"first")
    db.commit()
    key = row.storage_key
    service.delete_file(db, tenant.ctx(), row.id)
    db.rollback()  # a rolled-back delete keeps everything
    assert get_storage().exists(key) and _count(db) == 1
    service.delete_file(db, tenant.ctx(), row.id)
    db.commit()
    assert not get_storage().exists(key) and _count(db) == 0


def test_roles_operators_attach_owners_manage_knowledge(db: Session, tenant: Tenant) -> None:
    goal = make_goal(db, tenant)
    operator = tenant.ctx(tenant.operator, Role.OPERATOR)
    viewer = tenant.ctx(tenant.viewer, Role.VIEWER)
    service.upload(db, operator, name="a.txt", data=b"for the goal", goal=goal)
    with pytest.raises(Forbidden):
        service.upload(db, operator, name="k.txt", data=b"knowledge")
    with pytest.raises(Forbidden):
        service.upload(db, viewer, name="a.txt", data=b"x", goal=goal)
    knowledge = service.upload(db, tenant.ctx(), name="k.txt", data=b"knowledge")
    with pytest.raises(Forbidden):
        service.delete_file(db, operator, knowledge.id)


def test_another_accounts_goal_and_files_are_not_found(db: Session, tenant: Tenant) -> None:
    other = make_tenant(db, "Other")
    their_goal = make_goal(db, other)
    with pytest.raises(NotFound):
        service.upload(db, tenant.ctx(), name="a.txt", data=b"x", goal=their_goal)
    theirs = service.upload(db, other.ctx(), name="t.txt", data=b"theirs")
    with pytest.raises(NotFound):
        service.get_file(db, tenant.id, theirs.id)
    with pytest.raises(NotFound):
        service.delete_file(db, tenant.ctx(), theirs.id)


# --- through the pages ----------------------------------------------------------------


def _owner_page(client: TestClient, tenant: Tenant, path: str = "/knowledge") -> str:
    login(client, tenant.owner)
    return csrf_from(client.get(path).text)


def test_knowledge_page_upload_download_delete(client: TestClient, tenant: Tenant,
                                               db: Session) -> None:
    token = _owner_page(client, tenant)
    resp = client.post("/knowledge", data={"csrf_token": token},
                       files={"files": ("prices.pdf", samples.pdf("Croissant 2 EUR"),
                                        "text/html")}, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    db.rollback()  # see what the request committed
    row = db.scalars(select(StoredFile)).one()
    page = client.get("/knowledge").text
    assert "prices.pdf" in page and f"/files/{row.id}/download" in page
    got = client.get(f"/files/{row.id}/download")
    assert got.status_code == 200 and got.content == samples.pdf("Croissant 2 EUR")
    assert got.headers["content-type"] == "application/pdf"  # not what the browser claimed
    assert got.headers["content-disposition"].startswith('attachment; filename="prices.pdf"')
    assert got.headers["x-content-type-options"] == "nosniff"
    resp = client.post(f"/files/{row.id}/delete", data={"csrf_token": token},
                       follow_redirects=False)
    assert resp.status_code == 303
    assert client.get(f"/files/{row.id}/download").status_code == 404
    assert _stored_objects() == []


def test_a_refused_upload_shows_why_beside_the_field(client: TestClient, tenant: Tenant) -> None:
    token = _owner_page(client, tenant)
    resp = client.post("/knowledge", data={"csrf_token": token},
                       files={"files": ("invoice.pdf", samples.EXE, "application/pdf")})
    assert resp.status_code == 422
    assert "is a program, not a document" in resp.text


def test_goal_form_with_a_file_and_the_goal_page_lists_it(client: TestClient, tenant: Tenant,
                                                           db: Session) -> None:
    token = _owner_page(client, tenant, "/")
    resp = client.post("/goals", data={"csrf_token": token, "title": "Reprice the menu"},
                       files={"files": ("prices.csv", b"item,price\ncroissant,2\n", "text/csv")},
                       follow_redirects=False)
    assert resp.status_code == 303, resp.text
    goal_id = int(resp.headers["location"].rsplit("/", 1)[1])
    db.rollback()
    row = db.scalars(select(StoredFile)).one()
    assert row.goal_id == goal_id and row.kind == "csv"
    page = client.get(f"/goals/{goal_id}").text
    assert "prices.csv" in page
    resp = client.post(f"/goals/{goal_id}/files", data={"csrf_token": token},
                       files={"files": ("notes.md", b"# More", "text/markdown")},
                       follow_redirects=False)
    assert resp.status_code == 303
    assert "notes.md" in client.get(f"/goals/{goal_id}").text


def test_a_refused_file_on_the_goal_form_stores_no_goal(client: TestClient, tenant: Tenant,
                                                        db: Session) -> None:
    from web4os.goals.models import Goal

    token = _owner_page(client, tenant, "/")
    resp = client.post("/goals", data={"csrf_token": token, "title": "Reprice the menu"},
                       files={"files": ("../../etc/passwd", b"root:x", "text/plain")})
    assert resp.status_code == 400
    assert "be a path" in resp.text and "Reprice the menu" in resp.text
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Goal)) == 0
    assert _count(db) == 0 and _stored_objects() == []


def test_another_accounts_files_are_404_on_every_page_route(client: TestClient, tenant: Tenant,
                                                            db: Session) -> None:
    other = make_tenant(db, "Other")
    their_goal = make_goal(db, other)
    theirs = service.upload(db, other.ctx(), name="secret.txt", data=b"their secret",
                            goal=their_goal)
    db.commit()
    token = _owner_page(client, tenant)
    assert client.get(f"/files/{theirs.id}/download").status_code == 404
    assert client.post(f"/files/{theirs.id}/delete", data={"csrf_token": token}).status_code == 404
    resp = client.post(f"/goals/{their_goal.id}/files", data={"csrf_token": token},
                       files={"files": ("a.txt", b"x", "text/plain")})
    assert resp.status_code == 404
    assert "secret.txt" not in client.get("/knowledge").text
    db.rollback()
    assert _count(db) == 1 and get_storage().exists(theirs.storage_key)


def test_viewers_download_but_cannot_upload(client: TestClient, tenant: Tenant,
                                            db: Session) -> None:
    row = service.upload(db, tenant.ctx(), name="k.txt", data=b"knowledge")
    db.commit()
    login(client, tenant.viewer)
    token = csrf_from(client.get("/knowledge").text)
    assert client.get(f"/files/{row.id}/download").content == b"knowledge"
    resp = client.post("/knowledge", data={"csrf_token": token},
                       files={"files": ("a.txt", b"x", "text/plain")})
    assert resp.status_code == 403


def test_a_non_ascii_name_downloads_under_its_own_name(client: TestClient, tenant: Tenant,
                                                      db: Session) -> None:
    row = service.upload(db, tenant.ctx(), name="café menu \"v2\".md", data=b"# Menu")
    db.commit()
    login(client, tenant.viewer)
    got = client.get(f"/files/{row.id}/download")
    assert got.headers["content-type"] == "text/markdown; charset=utf-8"
    assert got.headers["content-disposition"] == (
        "attachment; filename=\"caf_ menu _v2_.md\"; "
        "filename*=UTF-8''caf%C3%A9%20menu%20%22v2%22.md")


def test_the_goal_page_says_why_a_file_is_refused_or_unreadable(
        client: TestClient, tenant: Tenant, db: Session) -> None:
    goal = make_goal(db, tenant)
    db.commit()
    token = _owner_page(client, tenant, f"/goals/{goal.id}")
    resp = client.post(f"/goals/{goal.id}/files", data={"csrf_token": token}, files=[
        ("files", ("ok.txt", b"fine", "text/plain")),
        ("files", ("setup.pdf", samples.EXE, "application/pdf"))])
    assert resp.status_code == 422 and "is a program, not a document" in resp.text
    db.rollback()
    assert _count(db) == 0 and _stored_objects() == []  # the whole form, or nothing
    resp = client.post(f"/goals/{goal.id}/files", data={"csrf_token": token},
                       files={"files": ("logo.png", samples.PNG, "image/png")},
                       follow_redirects=False)
    assert resp.status_code == 303
    page = client.get(f"/goals/{goal.id}").text
    assert "logo.png" in page and "its model reads images" in page

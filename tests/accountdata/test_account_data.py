"""An account's data is its own: the archive holds every row it has and nobody else's;
deletion removes every row and stored file; retention drops old history."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.credits.test_blocking_and_caps import _settle_down
from tests.factories import (
    PASSWORD,
    Tenant,
    csrf_from,
    login,
    make_planned_goal,
    make_tenant,
    plan_of,
)
from web4os.accountdata import archive, deletion, retention
from web4os.accounts import tokens
from web4os.accounts.models import Account, Role, User
from web4os.accounts.service import ensure_admin
from web4os.files import service as files
from web4os.files.models import StoredFile
from web4os.files.storage import get_storage
from web4os.goals.models import GoalStatus, Task, TaskEvent
from web4os.queue import enqueue
from web4os.tenancy import AccountId
from web4os.workers.embedded import EmbeddedRunner


@pytest.fixture(autouse=True)
def _own_file_store(tmp_path_factory: pytest.TempPathFactory,
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from web4os.config import get_settings

    monkeypatch.setenv("WEB4OS_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _busy(db: Session, runner: EmbeddedRunner, tenant: Tenant, note: bytes) -> int:
    """An account with a finished goal, history, ledger, a token and two files."""
    goal = make_planned_goal(db, tenant, plan_of(("a", "writer", []), ("b", "writer", ["a"])))
    enqueue(db, "advance_goal", goal_id=goal.id, account_id=tenant.id)
    files.upload(db, tenant.ctx(), name="prices.txt", data=note)
    files.upload(db, tenant.ctx(), name="brief.txt", data=note + b" brief", goal=goal)
    tokens.create_token(db, tenant.ctx(), name="zap", role=Role.VIEWER)
    db.commit()
    assert _settle_down(db, runner, goal.id).status == GoalStatus.COMPLETED
    return goal.id


def _archive(client: TestClient, url: str, **kw: object) -> zipfile.ZipFile:
    resp = client.get(url, **kw)  # type: ignore[arg-type]
    assert resp.status_code == 200, resp.text[:300]
    assert resp.headers["content-type"] == "application/zip"
    assert "attachment" in resp.headers["content-disposition"]
    return zipfile.ZipFile(io.BytesIO(resp.content))


def test_the_archive_holds_every_row_of_the_account_and_no_one_elses(
        client: TestClient, runner: EmbeddedRunner, db: Session, tenant: Tenant) -> None:
    other = make_tenant(db, "Neighbour")
    db.commit()
    _busy(db, runner, tenant, b"our price list")
    _busy(db, runner, other, b"their secret list")
    expected = archive.rows_of(db, tenant.id)
    login(client, tenant.owner)
    page = client.get("/settings/data")
    assert 'href="/settings/data/archive.zip"' in page.text
    zf = _archive(client, "/settings/data/archive.zip")
    manifest = json.loads(zf.read("manifest.json"))
    for table in archive.tenant_tables():
        if table.name in archive.NOT_ARCHIVED:
            continue
        lines = zf.read(f"tables/{table.name}.jsonl").decode().splitlines()
        rows = [json.loads(x) for x in lines]
        assert len(rows) == expected[table.name], table.name
        assert manifest["rows"][table.name] == expected[table.name]
        assert all(r["account_id"] == tenant.id for r in rows), table.name
    assert expected["tasks"] and expected["credit_ledger"] and expected["files"] == 2
    stored = [n for n in zf.namelist() if n.startswith("files/")]
    assert len(stored) == 2
    blobs = b"".join(zf.read(n) for n in stored)
    assert b"our price list" in blobs and b"their secret" not in blobs
    assert b"Neighbour" not in b"".join(zf.read(n) for n in zf.namelist())


def test_deletion_waits_for_the_grace_period_and_then_removes_everything(
        client: TestClient, runner: EmbeddedRunner, db: Session, tenant: Tenant) -> None:
    other = make_tenant(db, "Neighbour")
    db.commit()
    _busy(db, runner, tenant, b"ours")
    _busy(db, runner, other, b"theirs")
    keys = list(db.scalars(select(StoredFile.storage_key)
                           .where(StoredFile.account_id == tenant.id)))
    theirs_before = archive.rows_of(db, other.id)
    owner_email, aid = tenant.owner.email, tenant.id

    login(client, tenant.owner)
    csrf = csrf_from(client.get("/settings/data").text)
    resp = client.post("/settings/data/delete", data={"confirm": "Wrong", "csrf_token": csrf})
    assert resp.status_code == 422, resp.status_code
    text = resp.text.replace("&#39;", "'")
    assert f"name ({tenant.account.name}) to confirm" in text
    assert 'value="Wrong"' in resp.text
    client.post("/settings/data/delete", data={"confirm": f" {tenant.account.name.upper()} ",
                                              "csrf_token": csrf})
    page = client.get("/settings/data").text
    assert 'id="deletion-due"' in page and "Cancel the deletion" in page
    client.post("/settings/data/delete/cancel", data={"csrf_token": csrf})
    assert 'id="deletion-due"' not in client.get("/settings/data").text
    client.post("/settings/data/delete", data={"confirm": tenant.account.name,
                                              "csrf_token": csrf})

    retention.housekeeping()  # within the grace period nothing goes
    db.rollback()
    assert db.get(Account, tenant.id) is not None
    later = datetime.now(UTC) + timedelta(days=deletion.grace_days(), hours=1)
    retention.housekeeping(later)
    db.rollback()
    assert db.get(Account, aid) is None
    left = {t: n for t, n in archive.rows_of(db, aid).items() if n}
    assert left == {}, f"rows left behind: {left}"
    assert not any(get_storage().exists(k) for k in keys)
    assert db.scalar(select(func.count()).select_from(User)
                     .where(User.email == owner_email)) == 0
    assert archive.rows_of(db, other.id) == theirs_before


def test_an_admin_can_cut_the_grace_period_short(
        client: TestClient, runner: EmbeddedRunner, db: Session, tenant: Tenant) -> None:
    _busy(db, runner, tenant, b"ours")
    admin = ensure_admin(db, "root@example.com", PASSWORD)
    db.commit()
    aid = tenant.id
    login(client, admin)
    zf = _archive(client, f"/admin/accounts/{tenant.id}/archive.zip")
    assert json.loads(zf.read("manifest.json"))["account_id"] == tenant.id
    csrf = csrf_from(client.get(f"/admin/accounts/{tenant.id}").text)
    resp = client.post(f"/admin/accounts/{tenant.id}/delete",
                       data={"confirm": "nope", "csrf_token": csrf})
    assert resp.status_code == 422
    assert f"name ({tenant.account.name}) to confirm" in resp.text.replace("&#39;", "'")
    resp = client.post(f"/admin/accounts/{tenant.id}/delete",
                       data={"confirm": tenant.account.name, "csrf_token": csrf},
                       follow_redirects=False)
    assert resp.status_code == 303
    db.rollback()
    assert db.get(Account, aid) is None
    assert not any(archive.rows_of(db, aid).values())


def test_retention_drops_old_history_and_deliverables(
        runner: EmbeddedRunner, db: Session, tenant: Tenant) -> None:
    goal_id = _busy(db, runner, tenant, b"ours")
    account = db.get(Account, tenant.id)
    assert account is not None
    with pytest.raises(Exception, match="whole number of months"):
        retention.set_retention(db, tenant.id, "0")
    db.rollback()
    retention.set_retention(db, tenant.id, "3")
    db.commit()
    retention.housekeeping()  # nothing is 3 months old yet
    assert db.scalar(select(func.count()).select_from(TaskEvent)
                     .where(TaskEvent.goal_id == goal_id))
    with time_machine.travel(datetime.now(UTC) + timedelta(days=100)):
        retention.housekeeping()
    db.rollback()
    assert db.scalar(select(func.count()).select_from(TaskEvent)
                     .where(TaskEvent.goal_id == goal_id)) == 0
    outputs = set(db.scalars(select(Task.output).where(Task.goal_id == goal_id)))
    assert outputs == {retention.removed_note(3)}
    assert db.scalar(select(func.count()).select_from(StoredFile)
                     .where(StoredFile.account_id == tenant.id)) == 2  # uploads stay


def test_the_api_exports_and_schedules_deletion(
        client: TestClient, runner: EmbeddedRunner, db: Session, tenant: Tenant) -> None:
    _busy(db, runner, tenant, b"ours")
    owner = {"Authorization":
             f"Bearer {tokens.create_token(db, tenant.ctx(), name='o', role=Role.OWNER).secret}"}
    viewer = {"Authorization":
              f"Bearer {tokens.create_token(db, tenant.ctx(), name='v', role=Role.VIEWER).secret}"}
    db.commit()
    assert client.get("/api/v1/account/archive", headers=viewer).status_code == 403
    zf = _archive(client, "/api/v1/account/archive", headers=owner)
    assert json.loads(zf.read("manifest.json"))["rows"]["tasks"] == 2
    bad = client.post("/api/v1/account/deletion", json={"confirm": "x"}, headers=owner)
    assert bad.status_code == 422 and "confirm" in str(bad.json())
    ok = client.post("/api/v1/account/deletion", json={"confirm": tenant.account.name},
                     headers=owner)
    assert ok.status_code == 202 and ok.json()["deletion_due_at"]
    assert client.delete("/api/v1/account/deletion",
                         headers=owner).json() == {"deletion_due_at": None}
    resp = client.put("/api/v1/account/retention", json={"retention_months": 500},
                      headers=owner)
    assert resp.status_code == 422 and "retention_months" in str(resp.json())
    assert client.put("/api/v1/account/retention", json={"retention_months": 6},
                      headers=owner).json() == {"retention_months": 6}
    assert archive.rows_of(db, AccountId(tenant.id))["tasks"] == 2

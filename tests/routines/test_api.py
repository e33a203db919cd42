"""The routines JSON API: the same checks as the form (4xx naming the field), the roles,
and another account's routines and runs answering 404."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_tenant
from web4os.accounts import tokens
from web4os.accounts.models import Role
from web4os.routines.models import Routine

BODY = {"title": "Monthly invoice reminders", "preset": "monthly", "at": "07:00",
        "time_zone": "America/New_York", "missed_policy": "run_once"}


def _token(db: Session, tenant: Tenant, role: Role) -> dict[str, str]:
    secret = tokens.create_token(db, tenant.ctx(), name=f"routines {role.value}",
                                 role=role).secret
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_create_read_update_pause_resume_runs_and_archive(client: TestClient, db: Session,
                                                          tenant: Tenant) -> None:
    op = _token(db, tenant, Role.OPERATOR)
    made = client.post("/api/v1/routines", json=BODY, headers=op)
    assert made.status_code == 201, made.text
    r = made.json()
    assert (r["cron"], r["preset"], r["schedule"], r["status"]) == (
        "0 7 1 * *", "monthly", "The 1st of the month at 07:00", "active")
    assert len(r["next_runs"]) == 5 and r["next_runs"][0] == r["next_run_at"]
    rid = r["id"]
    assert [x["id"] for x in client.get("/api/v1/routines", headers=op).json()] == [rid]
    changed = client.put(f"/api/v1/routines/{rid}", headers=op,
                         json={**BODY, "preset": "cron", "cron": "30 6 * * 1-5"})
    assert changed.json()["cron"] == "30 6 * * 1-5"
    assert client.post(f"/api/v1/routines/{rid}/pause", headers=op).json()["status"] == "paused"
    resumed = client.post(f"/api/v1/routines/{rid}/resume", headers=op).json()
    assert resumed["status"] == "active" and resumed["next_run_at"]
    run = client.post(f"/api/v1/routines/{rid}/run", headers=op)
    assert run.status_code == 201 and run.json()["outcome"] == "started"
    history = client.get(f"/api/v1/routines/{rid}/runs", headers=op).json()
    assert [h["goal_id"] for h in history] == [run.json()["goal_id"]]
    assert client.get(f"/api/v1/routines/{rid}", headers=op).json()["last_run"]["manual"]
    assert client.delete(f"/api/v1/routines/{rid}", headers=op).status_code == 204
    assert client.get(f"/api/v1/routines/{rid}", headers=op).status_code == 404
    assert client.get("/api/v1/routines", headers=op).json() == []


def test_errors_name_the_field(client: TestClient, db: Session, tenant: Tenant) -> None:
    op = _token(db, tenant, Role.OPERATOR)
    for change, field in (({"preset": "cron", "cron": "0 9 * *"}, "cron"),
                          ({"at": "9am"}, "at"), ({"preset": "hourly"}, "preset"),
                          ({"time_zone": "Nowhere/City"}, "time_zone"),
                          ({"title": "  "}, "title")):
        resp = client.post("/api/v1/routines", json={**BODY, **change}, headers=op)
        assert resp.status_code == 422, change
        assert resp.json()["field"] == field, resp.json()
    bad_policy = client.post("/api/v1/routines", json={**BODY, "overlap_policy": "maybe"},
                             headers=op)
    assert bad_policy.status_code == 422 and "overlap_policy" in bad_policy.json()["detail"]
    db.rollback()
    assert db.scalars(select(Routine)).all() == []


def test_a_viewer_reads_but_cannot_create_or_change(client: TestClient, db: Session,
                                                    tenant: Tenant) -> None:
    op, viewer = _token(db, tenant, Role.OPERATOR), _token(db, tenant, Role.VIEWER)
    rid = client.post("/api/v1/routines", json=BODY, headers=op).json()["id"]
    assert client.get(f"/api/v1/routines/{rid}", headers=viewer).status_code == 200
    assert client.get(f"/api/v1/routines/{rid}/runs", headers=viewer).status_code == 200
    assert client.post("/api/v1/routines", json=BODY, headers=viewer).status_code == 403
    for path in ("pause", "resume", "run"):
        assert client.post(f"/api/v1/routines/{rid}/{path}", headers=viewer).status_code == 403
    assert client.delete(f"/api/v1/routines/{rid}", headers=viewer).status_code == 403
    assert client.put(f"/api/v1/routines/{rid}", json=BODY, headers=viewer).status_code == 403


def test_another_accounts_routines_and_runs_answer_404(client: TestClient, db: Session,
                                                        tenant: Tenant) -> None:
    other = make_tenant(db, "Other Co")
    db.commit()
    theirs_op, mine = _token(db, other, Role.OPERATOR), _token(db, tenant, Role.OWNER)
    theirs = client.post("/api/v1/routines", json=BODY, headers=theirs_op).json()["id"]
    client.post(f"/api/v1/routines/{theirs}/run", headers=theirs_op)
    for method, path in (("GET", ""), ("GET", "/runs"), ("POST", "/pause"),
                         ("POST", "/resume"), ("POST", "/run"), ("DELETE", "")):
        resp = client.request(method, f"/api/v1/routines/{theirs}{path}", headers=mine)
        assert resp.status_code == 404, (method, path)
        assert "Monthly invoice" not in resp.text
    assert client.put(f"/api/v1/routines/{theirs}", json=BODY,
                      headers=mine).status_code == 404
    assert client.get("/api/v1/routines", headers=mine).json() == []
    db.rollback()
    routine = db.get(Routine, theirs)
    assert routine is not None and routine.status.value == "active"

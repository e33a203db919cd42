"""The routine pages: the form with presets, cron, zone and policies, the live preview,
errors beside their field with the input kept, pause/resume, run now and the history."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant, csrf_from, login
from web4os.accounts.models import Account
from web4os.goals.models import Goal
from web4os.routines.models import Routine, RoutineRun, RoutineStatus, RunOutcome

FORM = {"title": "Weekly sales summary", "brief": "Numbers of the week.", "preset": "mondays",
        "at": "08:15", "cron": "", "time_zone": "Europe/London", "missed_policy": "run_once",
        "overlap_policy": "start", "credit_cap": "40"}


def _form(client: TestClient) -> str:
    page = client.get("/routines/new")
    assert page.status_code == 200
    return csrf_from(page.text)


def _routine(db: Session, tenant: Tenant) -> Routine:
    db.rollback()
    return db.scalars(select(Routine).where(Routine.account_id == tenant.id)).one()


def test_create_from_a_preset_then_see_it_listed(client: TestClient, db: Session,
                                                 tenant: Tenant) -> None:
    login(client, tenant.operator)
    resp = client.post("/routines", data={**FORM, "csrf_token": _form(client)},
                       follow_redirects=False)
    assert resp.status_code == 303
    routine = _routine(db, tenant)
    assert resp.headers["location"] == f"/routines/{routine.id}"
    assert (routine.cron, routine.time_zone, routine.credit_cap) == (
        "15 8 * * 1", "Europe/London", 40)
    assert routine.missed_policy.value == "run_once" and routine.overlap_policy.value == "start"
    page = client.get(f"/routines/{routine.id}")
    assert "Every Monday at 08:15" in page.text
    assert len(re.findall(r"<li>Mon \d+ \w+ \d{4}, 08:15 (GMT|BST)</li>", page.text)) == 5
    listing = client.get("/routines")
    assert "Weekly sales summary" in listing.text and "never" in listing.text
    assert 'href="/routines"' in client.get("/").text  # the nav link


def test_the_preview_shows_five_times_as_the_schedule_is_typed(client: TestClient,
                                                               tenant: Tenant) -> None:
    login(client, tenant.viewer)
    frag = client.get("/routines/preview", params={"preset": "cron", "cron": "0 9 1 * *",
                                                   "time_zone": "America/New_York"})
    assert frag.status_code == 200
    assert len(re.findall(r"<li>\w{3} 1 \w+ \d{4}, 09:00 E[SD]T</li>", frag.text)) == 5
    bad = client.get("/routines/preview", params={"preset": "cron", "cron": "0 9 * *"})
    assert "cron expression of five fields" in bad.text and "<li>" not in bad.text


def test_the_zone_defaults_to_the_accounts(client: TestClient, db: Session,
                                           tenant: Tenant) -> None:
    account = db.get(Account, tenant.id)
    assert account is not None
    account.time_zone = "Asia/Tokyo"
    db.commit()
    login(client, tenant.operator)
    assert "Asia/Tokyo" in client.get("/routines/new").text
    client.post("/routines", data={**FORM, "time_zone": "", "csrf_token": _form(client)})
    assert _routine(db, tenant).time_zone == "Asia/Tokyo"


def test_form_errors_name_the_field_and_keep_the_input(client: TestClient, db: Session,
                                                       tenant: Tenant) -> None:
    login(client, tenant.operator)
    token = _form(client)
    for field, value, message in (("cron", "every monday", "cron expression of five fields"),
                                  ("at", "25:99", "HH:MM"),
                                  ("time_zone", "Mars/Olympus", "Pick a time zone"),
                                  ("title", "", "Give the goal a title")):
        data = {**FORM, field: value, "csrf_token": token}
        if field == "cron":
            data["preset"] = "cron"
        resp = client.post("/routines", data=data)
        assert resp.status_code == 400, field
        assert f'id="e-{field}"' in resp.text and message in resp.text, field
        assert 'value="Numbers of the week.' not in resp.text  # brief is a textarea
        assert "Numbers of the week." in resp.text
        if value:
            assert f'value="{value}"' in resp.text, field
    db.rollback()
    assert db.scalars(select(Routine)).all() == []


def test_show_next_runs_previews_without_saving(client: TestClient, db: Session,
                                                tenant: Tenant) -> None:
    login(client, tenant.operator)
    resp = client.post("/routines", data={**FORM, "intent": "preview",
                                          "csrf_token": _form(client)})
    assert resp.status_code == 200
    assert len(re.findall(r"<li>Mon .*?, 08:15 ", resp.text)) == 5
    db.rollback()
    assert db.scalars(select(Routine)).all() == []


def test_pause_resume_run_now_and_history(client: TestClient, db: Session,
                                          tenant: Tenant) -> None:
    login(client, tenant.operator)
    token = _form(client)
    client.post("/routines", data={**FORM, "csrf_token": token})
    routine = _routine(db, tenant)
    client.post(f"/routines/{routine.id}/pause", data={"csrf_token": token})
    routine = _routine(db, tenant)
    assert (routine.status, routine.next_run_at) == (RoutineStatus.PAUSED, None)
    assert "Resume" in client.get(f"/routines/{routine.id}").text
    client.post(f"/routines/{routine.id}/resume", data={"csrf_token": token})
    routine = _routine(db, tenant)
    assert routine.status == RoutineStatus.ACTIVE and routine.next_run_at is not None
    resp = client.post(f"/routines/{routine.id}/run", data={"csrf_token": token},
                       follow_redirects=False)
    db.rollback()
    goal = db.scalars(select(Goal).where(Goal.account_id == tenant.id)).one()
    assert resp.headers["location"] == f"/goals/{goal.id}"
    run = db.scalars(select(RoutineRun)).one()
    assert (run.goal_id, run.outcome, run.manual) == (goal.id, RunOutcome.STARTED, True)
    history = client.get(f"/routines/{routine.id}").text
    assert f'href="/goals/{goal.id}"' in history and "(run now)" in history
    origin = client.get(f"/goals/{goal.id}/routine").text
    assert "Started by routine" in origin and f'href="/routines/{routine.id}"' in origin
    assert f'hx-get="/goals/{goal.id}/routine"' in client.get(f"/goals/{goal.id}").text
    client.post(f"/routines/{routine.id}/archive", data={"csrf_token": token})
    assert client.get(f"/routines/{routine.id}").status_code == 404
    assert "Weekly sales summary" not in client.get("/routines").text


def test_a_viewer_sees_but_cannot_change(client: TestClient, db: Session,
                                         tenant: Tenant) -> None:
    login(client, tenant.operator)
    client.post("/routines", data={**FORM, "csrf_token": _form(client)})
    routine = _routine(db, tenant)
    client.cookies.clear()
    login(client, tenant.viewer)
    token = csrf_from(client.get("/routines").text)
    page = client.get(f"/routines/{routine.id}")
    assert page.status_code == 200 and "Run now" not in page.text
    assert client.get("/routines/new").status_code == 403
    assert client.post("/routines", data={**FORM, "csrf_token": token}).status_code == 403
    assert client.post(f"/routines/{routine.id}/pause",
                       data={"csrf_token": token}).status_code == 403
    assert _routine(db, tenant).status == RoutineStatus.ACTIVE

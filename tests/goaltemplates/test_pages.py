"""The template pages: save a goal as a template, list, edit, delete, start a goal from
one (prefilled, adjustable); errors beside their field with the input kept; roles; other
accounts' templates answer 404; the routine form's “From template” select."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant, csrf_from, login, make_goal, make_tenant
from tests.goaltemplates.conftest import knowledge_file, make_template
from tests.routines.conftest import make_routine
from web4os.files import service as files
from web4os.goals.models import Goal
from web4os.goaltemplates import service as templates
from web4os.goaltemplates.models import GoalTemplate
from web4os.routines.models import Routine


def _csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return csrf_from(page.text)


def _templates(db: Session, tenant: Tenant) -> list[GoalTemplate]:
    db.rollback()
    return list(db.scalars(select(GoalTemplate).where(GoalTemplate.account_id == tenant.id)
                           .order_by(GoalTemplate.id)))


def test_save_a_goal_as_a_template_then_start_a_goal_from_it(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    goal = make_goal(db, tenant, "Spring promotion", brief="Tulips first.", credit_cap=40,
                     require_approval=True)
    poster = files.upload(db, tenant.ctx(), name="poster.txt", data=b"Poster text", goal=goal)
    db.commit()
    login(client, tenant.operator)
    assert f'href="/goals/{goal.id}/save-template"' in client.get(f"/goals/{goal.id}").text
    form = client.get(f"/goals/{goal.id}/save-template")
    assert 'value="Spring promotion"' in form.text and "Tulips first." in form.text
    assert f'value="{poster.id}" checked' in form.text
    resp = client.post("/templates", data={
        "csrf_token": csrf_from(form.text), "from_goal": str(goal.id), "name": "Spring promo",
        "title": "Spring promotion", "brief": "Tulips first.", "require_approval": "on",
        "credit_cap": "40", "attachments": [str(poster.id)]}, follow_redirects=False)
    assert resp.status_code == 303
    [template] = _templates(db, tenant)
    assert resp.headers["location"] == f"/templates/{template.id}"
    assert template.attachments == [poster.id]
    listing = client.get("/templates")
    assert "Spring promo" in listing.text and "never" in listing.text
    assert f'href="/templates/{template.id}/start"' in listing.text
    assert 'href="/templates"' in client.get("/").text  # the nav link

    start = client.get(f"/templates/{template.id}/start")
    assert 'value="Spring promotion"' in start.text and "poster.txt" in start.text
    resp = client.post(f"/templates/{template.id}/start", data={
        "csrf_token": csrf_from(start.text), "title": "Spring promotion: week 2",
        "brief": "Tulips first.", "require_approval": "on", "credit_cap": "40"},
        follow_redirects=False)
    assert resp.status_code == 303
    db.rollback()
    new = db.scalars(select(Goal).where(Goal.title == "Spring promotion: week 2")).one()
    assert resp.headers["location"] == f"/goals/{new.id}"
    assert (new.brief, new.require_approval, new.credit_cap) == ("Tulips first.", True, 40)
    assert [(f.name, files.read_bytes(f)) for f in files.list_files(
        db, tenant.id, goal_id=new.id)] == [("poster.txt", b"Poster text")]
    assert "never" not in client.get("/templates").text  # last used


def test_form_errors_are_shown_beside_the_field_with_the_input_kept(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    make_template(db, tenant)
    login(client, tenant.operator)
    token = _csrf(client, "/templates/new")
    resp = client.post("/templates", data={"csrf_token": token, "name": "weekly newsletter",
                                           "title": "Kept title", "brief": "Kept brief",
                                           "credit_cap": "lots"})
    assert resp.status_code == 400
    assert "Enter a whole number of credits" in resp.text
    assert 'value="Kept title"' in resp.text and "Kept brief" in resp.text
    resp = client.post("/templates", data={"csrf_token": token, "name": "weekly newsletter",
                                           "title": "Kept title"})
    assert resp.status_code == 400 and "already a template called" in resp.text
    resp = client.post("/templates", data={"csrf_token": token, "name": "Other",
                                           "title": "x", "attachments": ["abc"]})
    assert resp.status_code == 400 and "Pick files from the list." in resp.text
    assert len(_templates(db, tenant)) == 1


def test_the_start_form_keeps_the_input_when_refused(client: TestClient, db: Session,
                                                     tenant: Tenant) -> None:
    template = make_template(db, tenant)
    login(client, tenant.operator)
    token = _csrf(client, f"/templates/{template.id}/start")
    resp = client.post(f"/templates/{template.id}/start", data={
        "csrf_token": token, "title": "   ", "brief": "My adjusted brief"})
    assert resp.status_code == 400
    assert "Give the goal a title" in resp.text and "My adjusted brief" in resp.text
    db.rollback()
    assert db.scalars(select(Goal).where(Goal.account_id == tenant.id)).all() == []


def test_edit_and_delete(client: TestClient, db: Session, tenant: Tenant) -> None:
    style = knowledge_file(db, tenant)
    template = make_template(db, tenant)
    login(client, tenant.owner)
    edit = client.get(f"/templates/{template.id}/edit")
    assert 'value="Weekly newsletter"' in edit.text and f'value="{style.id}"' in edit.text
    resp = client.post(f"/templates/{template.id}", data={
        "csrf_token": csrf_from(edit.text), "name": "Newsletter", "title": "New title",
        "attachments": [str(style.id)]}, follow_redirects=False)
    assert resp.status_code == 303
    [saved] = _templates(db, tenant)
    assert (saved.name, saved.title, saved.require_approval, saved.attachments) == (
        "Newsletter", "New title", False, [style.id])
    assert "style.txt" in client.get(f"/templates/{template.id}").text
    resp = client.post(f"/templates/{template.id}/delete",
                       data={"csrf_token": csrf_from(edit.text)}, follow_redirects=False)
    assert resp.status_code == 303
    assert client.get(f"/templates/{template.id}").status_code == 404
    assert "No templates yet." in client.get("/templates").text


def test_viewers_read_and_cannot_change_or_start(client: TestClient, db: Session,
                                                 tenant: Tenant) -> None:
    template = make_template(db, tenant)
    goal = make_goal(db, tenant)
    db.commit()
    login(client, tenant.viewer)
    listing = client.get("/templates")
    assert listing.status_code == 200 and "Weekly newsletter" in listing.text
    assert "/start" not in listing.text and "New template" not in listing.text
    assert client.get(f"/templates/{template.id}").status_code == 200
    assert "Save as template" not in client.get(f"/goals/{goal.id}").text
    token = csrf_from(listing.text)
    for path in ("/templates/new", f"/templates/{template.id}/edit",
                 f"/templates/{template.id}/start", f"/goals/{goal.id}/save-template"):
        assert client.get(path).status_code == 403, path
    for path, data in (("/templates", {"name": "x", "title": "x"}),
                       (f"/templates/{template.id}", {"name": "x", "title": "x"}),
                       (f"/templates/{template.id}/start", {"title": "x"}),
                       (f"/templates/{template.id}/delete", {})):
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    db.rollback()
    assert db.scalars(select(Goal).where(Goal.account_id == tenant.id)).all() == [goal]
    assert [t.name for t in _templates(db, tenant)] == ["Weekly newsletter"]


def test_another_accounts_template_and_goal_answer_404(client: TestClient, db: Session,
                                                       tenant: Tenant) -> None:
    other = make_tenant(db, "Other Co")
    theirs = make_template(db, other)
    their_goal = make_goal(db, other)
    db.commit()
    login(client, tenant.owner)
    token = _csrf(client, "/templates")
    for path in (f"/templates/{theirs.id}", f"/templates/{theirs.id}/edit",
                 f"/templates/{theirs.id}/start", f"/goals/{their_goal.id}/save-template"):
        assert client.get(path).status_code == 404, path
    for path, data in ((f"/templates/{theirs.id}", {"name": "x", "title": "x"}),
                       (f"/templates/{theirs.id}/start", {"title": "x"}),
                       (f"/templates/{theirs.id}/delete", {})):
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 404, path
    assert "Weekly newsletter" not in client.get("/templates").text
    db.rollback()
    assert db.get(GoalTemplate, theirs.id).archived_at is None  # type: ignore[union-attr]


def test_the_routine_form_offers_the_accounts_templates(client: TestClient, db: Session,
                                                        tenant: Tenant) -> None:
    template = make_template(db, tenant)
    make_template(db, make_tenant(db, "Other Co"), name="Their template")
    login(client, tenant.operator)
    form = client.get("/routines/new")
    assert f'<option value="{template.id}"' in form.text and "Their template" not in form.text
    resp = client.post("/routines", data={
        "csrf_token": csrf_from(form.text), "template_id": str(template.id), "title": "",
        "preset": "daily", "at": "09:00", "missed_policy": "skip", "overlap_policy": "skip"},
        follow_redirects=False)
    assert resp.status_code == 303
    db.rollback()
    routine = db.scalars(select(Routine).where(Routine.account_id == tenant.id)).one()
    assert (routine.template_id, routine.title) == (template.id, "Write this week's newsletter")
    page = client.get(f"/routines/{routine.id}")
    assert f'href="/templates/{template.id}"' in page.text
    bad = client.post("/routines", data={"csrf_token": csrf_from(form.text),
                                         "template_id": "x1", "title": "Kept", "preset": "daily",
                                         "at": "09:00"})
    assert bad.status_code == 400 and "There is no such template" in bad.text
    assert 'value="Kept"' in bad.text


def test_a_routine_whose_template_was_deleted_says_so(client: TestClient, db: Session,
                                                     tenant: Tenant) -> None:
    template = make_template(db, tenant)
    routine = make_routine(db, tenant, datetime(2026, 12, 7, 8, tzinfo=UTC),
                           template_id=template.id)
    templates.delete_template(db, tenant.ctx(), template.id)
    db.commit()
    login(client, tenant.operator)
    assert "pick another template" in client.get(f"/routines/{routine.id}").text
    edit = client.get(f"/routines/{routine.id}/edit")
    assert "(a deleted template: pick another)" in edit.text

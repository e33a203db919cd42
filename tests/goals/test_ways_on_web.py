"""The ways on, as pages: the goal page and Needs you show them; each form works without
JavaScript, answers htmx, and keeps the operator's input beside the error."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.agents.conftest import wait_for_goal
from tests.factories import Tenant, csrf_from, login, make_planned_goal, plan_of, roster
from tests.goals.conftest import stop_at_planning
from tests.support.broken_models import CutOffAnswers
from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus
from web4os.goals.statemachine import transition
from web4os.workers.embedded import EmbeddedRunner


@pytest.fixture
def stopped(db: Session, tenant: Tenant, runner: EmbeddedRunner, model: CutOffAnswers) -> Goal:
    goal = stop_at_planning(db, tenant)
    assert goal.status == GoalStatus.FAILED
    return goal


def _csrf(client: TestClient, goal: Goal) -> str:
    return csrf_from(client.get(f"/goals/{goal.id}").text)


def test_the_goal_page_and_needs_you_show_the_reason_the_cost_and_the_ways_on(
        client: TestClient, db: Session, tenant: Tenant, stopped: Goal) -> None:
    ceo = roster(db, tenant)["ceo"]
    login(client, tenant.operator)
    page = client.get(f"/goals/{stopped.id}").text
    assert 'id="ways-on"' in page and "The CEO agent could not make a plan." in page
    assert "not complete JSON" in page
    assert f"1 failed attempt cost <strong>{stopped.credits_spent} credits</strong>" in page
    for action in ("plan-again", "edit", "simple-plan"):
        assert f'action="/goals/{stopped.id}/{action}"' in page
    assert f'href="/agents/{ceo.id}"' in page
    assert 'name="agent_ids"' in page and "Only an account owner can change" in page

    inbox = client.get("/inbox").text
    assert f'id="inbox-goal-{stopped.id}"' in inbox
    assert f'action="/goals/{stopped.id}/plan-again"' in inbox
    assert "Start from a simple plan" in inbox and f'href="/agents/{ceo.id}"' in inbox
    for way, anchor in (("edit_goal", "way-edit"), ("simple_plan", "way-simple")):
        link = f"/goals/{stopped.id}?way={way}"
        assert f'href="{link}#{anchor}"' in inbox
        assert f'id="{anchor}" data-keep-open open>' in client.get(link).text
    assert re.search(r'id="needs-you-count"\s*>1</span>', inbox)
    assert re.search(r'id="needs-you-count"\s*>1</span>', client.get("/").text)  # every page

    client.cookies.clear()
    login(client, tenant.viewer)
    page = client.get(f"/goals/{stopped.id}").text
    assert "The CEO agent could not make a plan." in page
    assert f'action="/goals/{stopped.id}/plan-again"' not in page


def test_plan_again_from_the_page(client: TestClient, db: Session, tenant: Tenant,
                                  stopped: Goal, runner: EmbeddedRunner,
                                  model: CutOffAnswers) -> None:
    login(client, tenant.operator)
    csrf = _csrf(client, stopped)
    refused = client.post(f"/goals/{stopped.id}/plan-again", follow_redirects=False)
    assert refused.status_code == 403  # no CSRF token
    model.healthy = True
    resp = client.post(f"/goals/{stopped.id}/plan-again", data={"csrf_token": csrf},
                       follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == f"/goals/{stopped.id}"
    goal = wait_for_goal(db, runner, stopped.id, GoalStatus.COMPLETED)
    assert goal.plan_attempts == 2
    assert 'id="ways-on"' not in client.get(f"/goals/{goal.id}").text


@pytest.mark.parametrize("htmx", [False, True])
def test_an_edit_error_shows_beside_the_field_with_the_input_kept(
        client: TestClient, db: Session, tenant: Tenant, stopped: Goal, htmx: bool) -> None:
    login(client, tenant.operator)
    headers = {"HX-Request": "true"} if htmx else {}
    resp = client.post(f"/goals/{stopped.id}/edit", headers=headers, data={
        "csrf_token": _csrf(client, stopped), "title": "  ", "brief": "Keep my new brief"})
    assert resp.status_code == 422
    assert '<p class="error" id="e-title">Give the goal a title' in resp.text
    assert ">Keep my new brief</textarea>" in resp.text
    assert '<details class="way" id="way-edit" data-keep-open open>' in resp.text
    assert resp.headers["HX-Push-Url"] == f"/goals/{stopped.id}"
    db.rollback()
    db.refresh(stopped)
    assert stopped.status == GoalStatus.FAILED and stopped.brief == "Monthly, for our regulars."


def test_edit_the_goal_from_the_page(client: TestClient, db: Session, tenant: Tenant,
                                     stopped: Goal, runner: EmbeddedRunner,
                                     model: CutOffAnswers) -> None:
    login(client, tenant.operator)
    model.healthy = True
    resp = client.post(f"/goals/{stopped.id}/edit", follow_redirects=False, data={
        "csrf_token": _csrf(client, stopped), "title": "A short newsletter", "brief": "Brief."})
    assert resp.status_code == 303
    goal = wait_for_goal(db, runner, stopped.id, GoalStatus.COMPLETED)
    assert (goal.title, goal.brief) == ("A short newsletter", "Brief.")


def test_start_from_a_simple_plan_from_the_page(client: TestClient, db: Session,
                                                tenant: Tenant, stopped: Goal,
                                                runner: EmbeddedRunner) -> None:
    agents = roster(db, tenant)
    login(client, tenant.operator)
    csrf = _csrf(client, stopped)
    resp = client.post(f"/goals/{stopped.id}/simple-plan", data={"csrf_token": csrf})
    assert resp.status_code == 422
    assert '<p class="error" id="e-agent_ids">Tick at least one specialist.</p>' in resp.text
    resp = client.post(f"/goals/{stopped.id}/simple-plan", data={
        "csrf_token": csrf, "agent_ids": [str(agents["ceo"].id), str(agents["writer"].id)]})
    assert resp.status_code == 422 and "Pick enabled specialists" in resp.text
    assert f'value="{agents["writer"].id}" checked' in resp.text  # the ticks are kept
    resp = client.post(f"/goals/{stopped.id}/simple-plan", follow_redirects=False, data={
        "csrf_token": csrf, "agent_ids": [str(agents["researcher"].id),
                                          str(agents["marketer"].id)]})
    assert resp.status_code == 303
    goal = wait_for_goal(db, runner, stopped.id, GoalStatus.COMPLETED)
    cards = db.scalars(select(Task).where(Task.goal_id == goal.id)
                       .order_by(Task.position)).unique().all()
    assert [t.key for t in cards] == ["researcher", "marketer"]
    again = client.post(f"/goals/{stopped.id}/simple-plan", follow_redirects=False, data={
        "csrf_token": csrf, "agent_ids": [str(agents["writer"].id)]})
    assert again.status_code == 303  # a second click (or a stale tab) changes nothing
    db.rollback()
    assert len(db.scalars(select(Task).where(Task.goal_id == goal.id)).unique().all()) == 2


def test_a_failed_card_in_needs_you_offers_retry_reassign_and_edit(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", [])))
    card = db.scalars(select(Task).where(Task.goal_id == goal.id)).one()
    for status in (TaskStatus.QUEUED, TaskStatus.RUNNING):
        transition(db, card, status, actor="test")
    transition(db, card, TaskStatus.FAILED, actor="test",
               reason="The request was too long for Researcher's model.")
    db.commit()
    login(client, tenant.operator)
    inbox = client.get("/inbox").text
    assert "The request was too long for Researcher&#39;s model." in inbox
    assert f'action="/tasks/{card.id}/retry"' in inbox
    for way in ("reassign", "edit"):
        link = f"/goals/{goal.id}/tasks/{card.id}?open={way}"
        assert f'href="{link}#{way}-details"' in inbox
        assert f'id="{way}-details" data-keep-open open>' in client.get(link).text

"""The ways on through the JSON API: a waiting goal says so, each way is a POST, and a
wrong field is a 4xx that names it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.agents.conftest import wait_for_goal
from tests.factories import Tenant, make_tenant, roster
from tests.goals.conftest import stop_at_planning
from tests.support.broken_models import CutOffAnswers
from web4os.accounts import tokens
from web4os.accounts.models import Role
from web4os.goals.models import Goal, GoalStatus
from web4os.workers.embedded import EmbeddedRunner


@pytest.fixture
def stopped(db: Session, tenant: Tenant, runner: EmbeddedRunner, model: CutOffAnswers) -> Goal:
    goal = stop_at_planning(db, tenant)
    return goal


def _bearer(db: Session, tenant: Tenant, role: Role = Role.OPERATOR) -> dict[str, str]:
    secret = tokens.create_token(db, tenant.ctx(), name=f"api {role.value}", role=role).secret
    db.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_a_waiting_goal_says_so_and_lists_its_ways_on(client: TestClient, db: Session,
                                                      tenant: Tenant, stopped: Goal) -> None:
    headers = _bearer(db, tenant, Role.VIEWER)
    body = client.get(f"/api/v1/goals/{stopped.id}", headers=headers).json()
    assert body["status"] == "failed" and body["needs_you"] is True
    assert body["ways_on"] == ["plan_again", "edit_goal", "switch_ceo_model", "simple_plan"]
    assert body["failed_attempts"] == 1
    assert body["failed_attempt_credits"] == body["credits_spent"] >= 2
    assert body["status_reason"].startswith("Waiting for you: the CEO agent could not make a plan.")
    [listed] = client.get("/api/v1/goals", headers=headers).json()
    assert listed == body


def test_plan_again_is_idempotent(client: TestClient, db: Session, tenant: Tenant,
                                  stopped: Goal, runner: EmbeddedRunner,
                                  model: CutOffAnswers) -> None:
    headers = _bearer(db, tenant)
    first = client.post(f"/api/v1/goals/{stopped.id}/plan-again", headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "planning" and first.json()["needs_you"] is False
    runner.wait_idle()  # the plan is cut off again: the goal waits again
    db.rollback()
    model.healthy = True
    again = client.post(f"/api/v1/goals/{stopped.id}/plan-again", headers=headers)
    assert again.status_code == 200 and again.json()["status"] == "planning"
    goal = wait_for_goal(db, runner, stopped.id, GoalStatus.COMPLETED)
    assert goal.plan_attempts == 3
    late = client.post(f"/api/v1/goals/{stopped.id}/plan-again", headers=headers)
    assert late.status_code == 200 and late.json()["status"] == "completed"  # nothing to do
    db.rollback()
    assert db.get(Goal, stopped.id).plan_attempts == 3  # type: ignore[union-attr]


def test_edit_names_the_wrong_field(client: TestClient, db: Session, tenant: Tenant,
                                    stopped: Goal, runner: EmbeddedRunner) -> None:
    headers = _bearer(db, tenant)
    resp = client.post(f"/api/v1/goals/{stopped.id}/edit", headers=headers,
                       json={"title": "", "brief": "x"})
    assert resp.status_code == 422
    assert resp.json()["field"] == "title" and "title" in resp.json()["detail"]
    resp = client.post(f"/api/v1/goals/{stopped.id}/edit", headers=headers,
                       json={"title": "A short newsletter", "brief": "Three paragraphs."})
    assert resp.status_code == 200, resp.text
    assert resp.json()["title"] == "A short newsletter" and resp.json()["status"] == "planning"


def test_simple_plan(client: TestClient, db: Session, tenant: Tenant, stopped: Goal,
                     runner: EmbeddedRunner) -> None:
    headers = _bearer(db, tenant)
    agents = roster(db, tenant)
    url = f"/api/v1/goals/{stopped.id}/simple-plan"
    empty = client.post(url, headers=headers, json={"agent_ids": []})
    assert empty.status_code == 422 and empty.json()["field"] == "agent_ids"
    ceo = client.post(url, headers=headers, json={"agent_ids": [agents["ceo"].id]})
    assert ceo.status_code == 422 and ceo.json()["field"] == "agent_ids"
    for _ in range(2):
        resp = client.post(url, headers=headers, json={"agent_ids": [agents["analyst"].id]})
        assert resp.status_code == 200, resp.text
    assert resp.json()["tasks_total"] == 1  # a repeat added nothing
    wait_for_goal(db, runner, stopped.id, GoalStatus.COMPLETED)
    tasks = client.get(f"/api/v1/goals/{stopped.id}/tasks", headers=headers).json()
    assert [(t["key"], t["instructions"]) for t in tasks] == [
        ("analyst", "Monthly, for our regulars.")]


def test_other_accounts_and_viewers_cannot_act(client: TestClient, db: Session, tenant: Tenant,
                                               stopped: Goal) -> None:
    other = make_tenant(db, "Other Co")
    db.commit()
    foreign, viewer = _bearer(db, other, Role.OWNER), _bearer(db, tenant, Role.VIEWER)
    writer = roster(db, tenant)["writer"].id
    for way, body in (("plan-again", None), ("edit", {"title": "Mine", "brief": ""}),
                      ("simple-plan", {"agent_ids": [writer]})):
        url = f"/api/v1/goals/{stopped.id}/{way}"
        assert client.post(url, headers=foreign, json=body).status_code == 404
        assert client.post(url, headers=viewer, json=body).status_code == 403
    db.rollback()
    db.refresh(stopped)
    assert stopped.status == GoalStatus.FAILED and stopped.title == "Launch a newsletter"

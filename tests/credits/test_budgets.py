"""Monthly budgets: the account's month, pausing at the budget, one warning a month,
resuming when the month turns, and the owner-only forms and API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.credits.test_blocking_and_caps import _settle_down
from tests.factories import Tenant, csrf_from, login, make_planned_goal, plan_of, roster
from web4os.accounts import tokens
from web4os.accounts.models import Account, Role, User
from web4os.accounts.service import ensure_admin
from web4os.credits.budgets import month_of
from web4os.goals import budgets
from web4os.goals.models import GoalStatus, TaskEvent
from web4os.goals.recovery import sweep
from web4os.queue import enqueue
from web4os.tenancy import system_session
from web4os.workers.embedded import EmbeddedRunner


def test_the_month_is_the_accounts_own() -> None:
    new_year_utc = datetime(2026, 12, 31, 12, 30, tzinfo=UTC)  # already 1 January in Auckland
    auckland = month_of(new_year_utc, "Pacific/Auckland")
    assert auckland.label == "2027-01"
    assert auckland.starts == datetime(2026, 12, 31, 11, 0, tzinfo=UTC)  # NZDT is UTC+13
    assert auckland.resets_on == "1 February"
    la = month_of(new_year_utc, "America/Los_Angeles")
    assert la.label == "2026-12" and la.ends == datetime(2027, 1, 1, 8, 0, tzinfo=UTC)


def _budget(db: Session, tenant: Tenant, budget: int | None, warn: int = 80) -> Account:
    account = db.get(Account, tenant.id)
    assert account is not None
    account.monthly_budget, account.budget_warn_percent = budget, warn
    return account


def test_the_account_budget_pauses_the_goal_and_raising_it_resumes(
    client: TestClient, runner: EmbeddedRunner, db: Session, tenant: Tenant,
) -> None:
    _budget(db, tenant, 1)
    goal = make_planned_goal(db, tenant, plan_of(("a", "writer", []), credits=2))
    enqueue(db, "advance_goal", goal_id=goal.id, account_id=tenant.id)
    db.commit()

    goal = _settle_down(db, runner, goal.id)
    assert goal.status == GoalStatus.PAUSED
    assert "the account's monthly budget is reached" in goal.status_reason
    assert "0 of 1 credits are used this month" in goal.status_reason
    assert "Work resumes by itself on 1 " in goal.status_reason

    login(client, tenant.owner)
    usage = client.get("/usage")
    assert "<strong>0%</strong> used: 0 of 1 credits this month" in usage.text
    resp = client.post("/usage/budget", data={"monthly_budget": "1,000", "warn_percent": "80",
                                              "csrf_token": csrf_from(usage.text)},
                       follow_redirects=False)
    assert resp.status_code == 303
    goal = _settle_down(db, runner, goal.id, until=(GoalStatus.COMPLETED, GoalStatus.FAILED))
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason


def test_an_agent_budget_pauses_with_the_agents_name(
    runner: EmbeddedRunner, db: Session, tenant: Tenant,
) -> None:
    writer = roster(db, tenant)["writer"]
    writer.monthly_budget = 1
    goal = make_planned_goal(db, tenant, plan_of(("a", "writer", []), credits=2))
    enqueue(db, "advance_goal", goal_id=goal.id, account_id=tenant.id)
    db.commit()
    goal = _settle_down(db, runner, goal.id)
    assert goal.status == GoalStatus.PAUSED
    assert f"{writer.name}'s monthly budget is reached" in goal.status_reason


def test_the_warning_is_given_once_a_month(
    runner: EmbeddedRunner, db: Session, tenant: Tenant,
) -> None:
    account = _budget(db, tenant, 100, warn=1)  # every 2-credit hold is past 1 %
    goal = make_planned_goal(db, tenant, plan_of(("a", "writer", []), ("b", "writer", ["a"]),
                                                 ("c", "writer", ["b"]), credits=2))
    enqueue(db, "advance_goal", goal_id=goal.id, account_id=tenant.id)
    db.commit()
    goal = _settle_down(db, runner, goal.id)
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    warnings = db.scalars(select(TaskEvent).where(TaskEvent.goal_id == goal.id,
                                                  TaskEvent.kind == "budget")).all()
    assert len(warnings) == 1
    assert "of the account's monthly budget is used" in warnings[0].message
    db.refresh(account)
    assert account.budget_warned == month_of(datetime.now(UTC), account.time_zone).label


def test_work_a_budget_paused_resumes_when_the_month_turns(
    runner: EmbeddedRunner, db: Session, tenant: Tenant,
) -> None:
    _budget(db, tenant, 3)
    goal = make_planned_goal(db, tenant, plan_of(("a", "writer", []), ("b", "writer", ["a"]),
                                                 credits=2))
    enqueue(db, "advance_goal", goal_id=goal.id, account_id=tenant.id)
    db.commit()
    goal = _settle_down(db, runner, goal.id)
    assert goal.status == GoalStatus.PAUSED  # a's 2 credits held, b's 2 would pass 3
    sweep()  # the sweep notes this month
    assert runner.wait_idle(10)
    db.refresh(goal)
    assert goal.status == GoalStatus.PAUSED
    next_month = month_of(datetime.now(UTC), "UTC").ends + timedelta(hours=1)
    with time_machine.travel(next_month, tick=True):
        sweep()
        goal = _settle_down(db, runner, goal.id, until=(GoalStatus.COMPLETED,
                                                         GoalStatus.FAILED))
        assert goal.status == GoalStatus.COMPLETED, goal.status_reason
        with system_session() as s:  # a second sweep in the same month resumes nothing
            assert budgets.months_turned(s) == []


def test_budget_forms_check_input_and_roles(
    client: TestClient, db: Session, tenant: Tenant,
) -> None:
    writer = roster(db, tenant)["writer"]
    db.commit()
    login(client, tenant.owner)
    csrf = csrf_from(client.get("/usage").text)
    resp = client.post("/usage/budget", data={"monthly_budget": "lots", "warn_percent": "150",
                                              "csrf_token": csrf})
    assert resp.status_code == 422
    assert "whole number of credits" in resp.text and 'value="lots"' in resp.text
    resp = client.post(f"/usage/agents/{writer.id}/budget",
                       data={"monthly_budget": "-3", "csrf_token": csrf})
    assert resp.status_code == 422 and 'id="e-budget-' in resp.text
    resp = client.post("/usage/budget", data={"monthly_budget": "500", "warn_percent": "150",
                                              "csrf_token": csrf})
    assert resp.status_code == 422 and "from 1 to 100" in resp.text
    db.rollback()
    assert db.get(Account, tenant.id).monthly_budget is None  # type: ignore[union-attr]

    client.cookies.clear()
    login(client, tenant.operator)
    csrf = csrf_from(client.get("/usage").text)
    assert 'action="/usage/budget"' not in client.get("/usage").text
    resp = client.post("/usage/budget", data={"monthly_budget": "5", "csrf_token": csrf})
    assert resp.status_code == 403


def test_the_api_reads_and_sets_budgets(client: TestClient, db: Session,
                                        tenant: Tenant) -> None:
    def bearer(role: Role) -> dict[str, str]:
        secret = tokens.create_token(db, tenant.ctx(), name=role.value, role=role).secret
        return {"Authorization": f"Bearer {secret}"}

    viewer, operator, owner = bearer(Role.VIEWER), bearer(Role.OPERATOR), bearer(Role.OWNER)
    writer = roster(db, tenant)["writer"]
    db.commit()
    assert client.get("/api/v1/budgets", headers=viewer).json()["account"] is None
    assert client.put("/api/v1/budgets", json={"monthly_budget": 5},
                      headers=operator).status_code == 403
    bad = client.put("/api/v1/budgets", json={"monthly_budget": 0}, headers=owner)
    assert bad.status_code == 422 and "monthly_budget" in str(bad.json())
    bad = client.put("/api/v1/budgets", json={"monthly_budget": 10, "warn_percent": 0},
                     headers=owner)
    assert bad.status_code == 422 and "warn_percent" in str(bad.json())
    ok = client.put("/api/v1/budgets", json={"monthly_budget": 10, "warn_percent": 50},
                    headers=owner).json()
    assert ok["account"]["budget"] == 10 and ok["account"]["warn_percent"] == 50
    resp = client.put(f"/api/v1/agents/{writer.id}/monthly-budget",
                      json={"monthly_budget": 7}, headers=owner)
    assert resp.json() == {"monthly_budget": 7}
    agents = client.get("/api/v1/budgets", headers=viewer).json()["agents"]
    assert [(a["agent_id"], a["budget"]) for a in agents] == [(writer.id, 7)]


def test_admins_see_accounts_near_their_budget(
    client: TestClient, runner: EmbeddedRunner, db: Session, tenant: Tenant,
) -> None:
    _budget(db, tenant, 3, warn=50)
    goal = make_planned_goal(db, tenant, plan_of(("a", "writer", []), credits=2))
    enqueue(db, "advance_goal", goal_id=goal.id, account_id=tenant.id)
    admin: User = ensure_admin(db, "admin@example.com", "a long enough password 1")
    db.commit()
    _settle_down(db, runner, goal.id)
    login(client, admin, "a long enough password 1")
    page = client.get("/admin").text
    assert 'id="near-limits"' in page and tenant.account.name in page

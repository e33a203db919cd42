"""Out of credits blocks and resumes by itself; caps pause the goal with a card."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import (
    Tenant,
    csrf_from,
    login,
    make_planned_goal,
    make_tenant,
    plan_of,
    roster,
    submit_goal,
)
from web4os.accounts.models import Role
from web4os.credits import service as credits
from web4os.credits.models import CreditLedgerEntry, EntryKind
from web4os.errors import Forbidden
from web4os.goals import caps
from web4os.goals.models import Goal, GoalStatus, Task, TaskEvent, TaskStatus
from web4os.goals.scheduling import OUT_OF_CREDITS
from web4os.queue import enqueue
from web4os.workers.embedded import EmbeddedRunner

SETTLED = (GoalStatus.COMPLETED, GoalStatus.FAILED, GoalStatus.PAUSED)


def _settle_down(db: Session, runner: EmbeddedRunner, goal_id: int,
                 until: tuple[GoalStatus, ...] = SETTLED, timeout: float = 60.0) -> Goal:
    """Wait until the runner is idle and the goal is in one of ``until``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert runner.wait_idle(timeout=10)
        db.rollback()
        goal = db.get(Goal, goal_id)
        assert goal is not None
        db.refresh(goal)
        if goal.status in until:
            return goal
        if goal.status == GoalStatus.RUNNING and runner.wait_idle(0.1):
            tasks = _tasks(db, goal_id)
            if not any(t.status in (TaskStatus.QUEUED, TaskStatus.RUNNING) for t in tasks):
                return goal  # nothing more will happen by itself
    raise AssertionError("the goal did not settle")


def _tasks(db: Session, goal_id: int) -> list[Task]:
    return list(db.scalars(select(Task).where(Task.goal_id == goal_id)
                           .order_by(Task.position)).unique())


def test_goal_blocks_when_out_of_credits_and_finishes_after_a_top_up(
    client: TestClient, runner: EmbeddedRunner, db: Session,
) -> None:
    """Done-means: too few credits → cards blocked with the message → admin top-up →
    the goal completes, with no operator action in between."""
    tenant = make_tenant(db, "Thin Wallet", credits=3)  # enough to plan, not to do it all
    db.commit()
    login(client, tenant.operator)
    home = client.get("/")
    goal_id = submit_goal(client, csrf_from(home.text), "Launch a newsletter for our bakery")

    goal = _settle_down(db, runner, goal_id)
    assert goal.status == GoalStatus.RUNNING
    blocked = [t for t in _tasks(db, goal_id) if t.status == TaskStatus.BLOCKED]
    assert blocked, "some card must wait for credits"
    assert all(t.status_reason == OUT_OF_CREDITS for t in blocked)
    assert credits.balance(db, tenant.id) < max(t.estimated_credits for t in blocked)
    page = client.get(f"/goals/{goal_id}")
    assert "Out of credits — top up or ask your admin" in page.text
    inbox = client.get("/inbox")
    assert blocked[0].title in inbox.text

    # The admin tops the account up (the console calls this service); nobody else acts.
    db.rollback()  # a fresh transaction for the write (SQLite: no stale read snapshot)
    credits.grant(db, tenant.id, 1000, kind=EntryKind.TOPUP, resume=True,
                  actor="admin:ops@example.com", reason="Top-up")
    db.commit()

    goal = _settle_down(db, runner, goal_id, until=(GoalStatus.COMPLETED, GoalStatus.FAILED))
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    assert all(t.status == TaskStatus.DONE for t in _tasks(db, goal_id))
    actors = {e.actor for t in _tasks(db, goal_id) for e in _events(db, t.id)}
    assert not any(a.startswith("user:") for a in actors)  # no operator clicked anything
    db.rollback()
    assert credits.balance(db, tenant.id) == 1003 - goal.credits_spent


def _events(db: Session, task_id: int) -> list[TaskEvent]:
    return list(db.scalars(select(TaskEvent).where(TaskEvent.task_id == task_id)))


def _paused_by_its_cap(db: Session, runner: EmbeddedRunner,
                       tenant: Tenant) -> tuple[Goal, Task, Task]:
    """A chain a → b of 5 credits each under a goal cap of 5, run until its cap pauses it."""
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []),
                                                 ("b", "writer", ["a"]), credits=5))
    goal.credit_cap = 5  # a fits exactly (5 held); b cannot start once a has cost anything
    enqueue(db, "advance_goal", goal_id=goal.id, account_id=tenant.id)
    db.commit()
    goal = _settle_down(db, runner, goal.id)
    assert goal.status == GoalStatus.PAUSED
    a, b = _tasks(db, goal.id)
    assert b.status == TaskStatus.BLOCKED
    return goal, a, b


def test_a_goal_cap_pauses_the_goal_with_a_card_and_raising_it_resumes(
    client: TestClient, runner: EmbeddedRunner, db: Session, tenant: Tenant,
) -> None:
    goal, a, b = _paused_by_its_cap(db, runner, tenant)
    assert a.status == TaskStatus.DONE
    used = caps.goal_used(db, tenant.id, goal.id)
    assert used == goal.credits_spent >= 1
    for text in (goal.status_reason, b.status_reason):
        assert "this goal's credit cap is reached" in text
        assert f"{used:,} of 5 credits are used" in text
        assert "raise or remove the cap" in text
    # No hold is left behind by the refused attempt.
    db.rollback()
    assert credits.reserved_amount(db, f"task:{b.id}:a1") == 0

    # A top-up alone does not lift a cap: the goal stays paused.
    db.rollback()
    credits.grant(db, tenant.id, 10, kind=EntryKind.TOPUP, resume=True, actor="admin:x",
                  reason="unrelated top-up")
    db.commit()
    goal = _settle_down(db, runner, goal.id)
    assert goal.status == GoalStatus.PAUSED

    login(client, tenant.owner)
    page = client.get(f"/goals/{goal.id}")
    assert "this goal&#39;s credit cap is reached" in page.text or \
        "this goal's credit cap is reached" in page.text
    form = client.get(f"/goals/{goal.id}/cap")
    resp = client.post(f"/goals/{goal.id}/cap", data={"credit_cap": "100",
                                                      "csrf_token": csrf_from(form.text)},
                       follow_redirects=False)
    assert resp.status_code == 303
    goal = _settle_down(db, runner, goal.id, until=(GoalStatus.COMPLETED, GoalStatus.FAILED))
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    assert goal.credit_cap == 100


def test_cancelling_the_card_a_cap_stopped_lets_the_goal_finish(
    client: TestClient, runner: EmbeddedRunner, db: Session, tenant: Tenant,
) -> None:
    """Without the capped card nothing stops the goal: it must not stay paused for good."""
    goal, _a, b = _paused_by_its_cap(db, runner, tenant)

    login(client, tenant.owner)
    page = client.get(f"/goals/{goal.id}/tasks/{b.id}")
    resp = client.post(f"/tasks/{b.id}/cancel", data={"csrf_token": csrf_from(page.text),
                                                      "seen": "blocked"},
                       follow_redirects=False)
    assert resp.status_code == 303
    goal = _settle_down(db, runner, goal.id, until=(GoalStatus.COMPLETED, GoalStatus.FAILED))
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    assert [t.status for t in _tasks(db, goal.id)] == [TaskStatus.DONE, TaskStatus.CANCELLED]


def test_an_agent_cap_pauses_the_goal_and_removing_it_resumes(
    client: TestClient, runner: EmbeddedRunner, db: Session, tenant: Tenant,
) -> None:
    writer = roster(db, tenant)["writer"]
    writer.credit_cap = 1
    goal = make_planned_goal(db, tenant, plan_of(("a", "writer", []), credits=2))
    enqueue(db, "advance_goal", goal_id=goal.id, account_id=tenant.id)
    db.commit()

    goal = _settle_down(db, runner, goal.id)
    assert goal.status == GoalStatus.PAUSED
    assert f"the credit cap of {writer.name} is reached" in goal.status_reason
    assert "0 of 1 credits are used" in goal.status_reason
    assert "needs about 2 more" in goal.status_reason

    login(client, tenant.owner)
    usage = client.get("/usage")
    assert f'id="cap-{writer.id}"' in usage.text
    resp = client.post(f"/usage/agents/{writer.id}/cap",
                       data={"credit_cap": "", "csrf_token": csrf_from(usage.text)},
                       follow_redirects=False)
    assert resp.status_code == 303
    goal = _settle_down(db, runner, goal.id, until=(GoalStatus.COMPLETED, GoalStatus.FAILED))
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    db.refresh(writer)
    assert writer.credit_cap is None


def test_cap_forms_validate_and_only_owners_change_caps(
    client: TestClient, db: Session, tenant: Tenant,
) -> None:
    writer = roster(db, tenant)["writer"]
    goal = make_planned_goal(db, tenant, plan_of(("a", "writer", [])))
    db.commit()
    login(client, tenant.owner)
    usage = client.get("/usage")
    token = csrf_from(usage.text)
    resp = client.post(f"/usage/agents/{writer.id}/cap",
                       data={"credit_cap": "lots", "csrf_token": token})
    assert resp.status_code == 422
    assert "Enter a whole number of credits" in resp.text
    assert 'value="lots"' in resp.text  # the input is kept next to its error
    resp = client.post(f"/goals/{goal.id}/cap", data={"credit_cap": "0", "csrf_token": token})
    assert resp.status_code == 422 and "Enter a whole number of credits" in resp.text

    client.post("/logout", data={"csrf_token": token})
    login(client, tenant.operator)
    token = csrf_from(client.get("/usage").text)
    resp = client.post(f"/goals/{goal.id}/cap", data={"credit_cap": "9", "csrf_token": token})
    assert resp.status_code == 403
    db.rollback()
    assert db.get(Goal, goal.id).credit_cap is None  # type: ignore[union-attr]
    with pytest.raises(Forbidden):
        caps.set_agent_cap(db, tenant.ctx(tenant.operator, Role.OPERATOR), writer.id, 5)


def test_the_goal_form_takes_an_optional_cap(client: TestClient, db: Session,
                                             tenant: Tenant, runner: EmbeddedRunner) -> None:
    login(client, tenant.operator)
    token = csrf_from(client.get("/").text)
    resp = client.post("/goals", data={"title": "Capped goal", "credit_cap": "-3",
                                       "csrf_token": token})
    assert resp.status_code == 400
    assert "Enter a whole number of credits" in resp.text and 'value="-3"' in resp.text
    resp = client.post("/goals", data={"title": "Capped goal", "credit_cap": "1,500",
                                       "csrf_token": token}, follow_redirects=False)
    assert resp.status_code == 303
    db.rollback()
    goal = db.scalars(select(Goal)).one()
    assert goal.credit_cap == 1500


def test_a_refused_hold_leaves_no_ledger_entry(db: Session, tenant: Tenant) -> None:
    goal = make_planned_goal(db, tenant, plan_of(("a", "writer", []), credits=7))
    goal.credit_cap = 6
    task = db.scalars(select(Task).where(Task.goal_id == goal.id)).unique().one()
    reserved, breach = caps.reserve_within_caps(db, task, "task:t:a1", reason="x")
    assert not reserved and breach is not None and breach.scope == "goal"
    assert db.scalar(select(CreditLedgerEntry.id).where(
        CreditLedgerEntry.kind == EntryKind.RESERVATION)) is None
    assert credits.balance(db, tenant.id) == 1000
    db.rollback()


def test_retrying_a_card_that_is_still_blocked_says_why_and_changes_nothing(
    db: Session, runner: EmbeddedRunner,
) -> None:
    from web4os.errors import InsufficientCredits
    from web4os.goals import actions
    from web4os.goals.scheduling import queue_task

    tenant = make_tenant(db, "Broke", credits=1)
    goal = make_planned_goal(db, tenant, plan_of(("a", "writer", []), credits=2))
    task = _tasks(db, goal.id)[0]
    assert not queue_task(db, task, actor="test", reason="go")
    assert task.status == TaskStatus.BLOCKED
    db.commit()
    with pytest.raises(InsufficientCredits, match="Out of credits — top up or ask your admin"):
        actions.retry(db, tenant.ctx(tenant.operator, Role.OPERATOR), task.id)
    db.rollback()
    goal.credit_cap = 1
    credits.grant(db, tenant.id, 10, actor="test", reason="more")
    with pytest.raises(caps.CreditCapReached, match="this goal's credit cap is reached"):
        actions.retry(db, tenant.ctx(tenant.operator, Role.OPERATOR), task.id)
    db.rollback()
    assert _tasks(db, goal.id)[0].status == TaskStatus.BLOCKED


@pytest.mark.parametrize("how", ["reassign", "cancel"])
def test_a_goal_an_agent_cap_paused_resumes_once_its_card_no_longer_waits(
    client: TestClient, runner: EmbeddedRunner, db: Session, tenant: Tenant, how: str,
) -> None:
    """The capped card given to an uncapped specialist (or cancelled) leaves nothing that a
    cap stops: the goal goes on by itself, with no resume button to find."""
    agents = roster(db, tenant)
    agents["writer"].credit_cap = 1
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []),
                                                 ("b", "writer", ["a"]), credits=2))
    enqueue(db, "advance_goal", goal_id=goal.id, account_id=tenant.id)
    db.commit()
    goal = _settle_down(db, runner, goal.id)
    assert goal.status == GoalStatus.PAUSED
    done, card = _tasks(db, goal.id)
    assert (done.status, card.status) == (TaskStatus.DONE, TaskStatus.BLOCKED)

    login(client, tenant.operator)
    page = client.get(f"/goals/{goal.id}/tasks/{card.id}")
    data = {"csrf_token": csrf_from(page.text), "seen": "blocked"}
    if how == "reassign":
        data["agent_id"] = str(agents["researcher"].id)
    resp = client.post(f"/tasks/{card.id}/{how}", data=data, follow_redirects=False)
    assert resp.status_code == 303, resp.text[:300]
    goal = _settle_down(db, runner, goal.id, until=(GoalStatus.COMPLETED, GoalStatus.FAILED))
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason

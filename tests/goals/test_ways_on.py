"""A goal whose planning fails waits for the operator, with the reason and the ways on.

The planning job runs step by step here (a held queue records what it sends), so each
test sees exactly which jobs an action starts and what every attempt cost.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import HeldQueue, Tenant, make_goal, make_tenant, roster
from tests.support.broken_models import BusyPlans, CutOffAnswers
from web4os.agents.providers import set_provider_override
from web4os.config import get_settings
from web4os.credits.models import CreditLedgerEntry
from web4os.errors import Conflict, InvalidInput, NotFound
from web4os.goals import actions, board, planning, ways_on
from web4os.goals.models import Goal, GoalStatus, Task, TaskEvent, TaskStatus
from web4os.tenancy import AccountId


def _plan(db: Session, goal_id: int, account_id: int) -> Goal:
    """Run the planning job once, as a worker would, and read the goal afresh."""
    planning.plan_goal(goal_id, account_id=account_id)
    db.rollback()
    goal = db.get(Goal, goal_id)
    assert goal is not None
    db.refresh(goal)
    return goal


@pytest.fixture
def stopped(db: Session, tenant: Tenant, held_queue: HeldQueue, model: CutOffAnswers) -> Goal:
    """A goal whose plan came back cut off twice (the answer and the repair re-ask)."""
    goal = make_goal(db, tenant, "Launch a newsletter", brief="Monthly, for our regulars.")
    db.commit()
    return _plan(db, goal.id, tenant.id)


def _tasks(db: Session, goal_id: int) -> list[Task]:
    return list(db.scalars(select(Task).where(Task.goal_id == goal_id)
                           .order_by(Task.position)).unique())


def test_a_plan_that_fails_twice_waits_in_needs_you_with_the_reason(
        db: Session, tenant: Tenant, stopped: Goal) -> None:
    assert stopped.status == GoalStatus.FAILED
    assert stopped.status_reason.startswith("Waiting for you: the CEO agent could not make a plan.")
    assert "not complete JSON" in stopped.status_reason and "cut off" in stopped.status_reason
    assert "Expecting" not in stopped.status_reason  # the parser's words stay in the history

    [w] = ways_on.waiting_goals(db, tenant.id)
    assert w.goal.id == stopped.id and not w.has_cards
    assert w.reason.startswith("The CEO agent could not make a plan.")
    assert w.failed_attempts == 1
    assert w.failed_credits == stopped.credits_spent >= 2  # the answer and its re-ask
    assert w.detail.startswith("The model's answer was not valid after a retry")
    assert w.raw and not w.raw.rstrip().endswith("}")
    assert board.needs_you_count(db, tenant.id) == 1
    assert ways_on.waiting_goal(db, tenant.id, stopped) is not None


def test_plan_again_plans_anew_once_however_often_it_is_clicked(
        db: Session, tenant: Tenant, stopped: Goal, held_queue: HeldQueue,
        model: CutOffAnswers) -> None:
    ctx = tenant.ctx(tenant.operator)
    jobs = len(held_queue.jobs)
    for _ in range(2):
        goal = ways_on.plan_again(db, ctx, stopped.id)
        db.commit()
    assert goal.status == GoalStatus.PLANNING and goal.plan_round_start == 1
    assert held_queue.names()[jobs:] == ["plan_goal"]
    assert board.needs_you_count(db, tenant.id) == 0

    model.healthy = True  # e.g. the owner switched the CEO agent's model
    goal = _plan(db, stopped.id, tenant.id)
    assert goal.status == GoalStatus.RUNNING and _tasks(db, goal.id)
    ways_on.plan_again(db, ctx, goal.id)  # a late click on a planned goal changes nothing
    db.commit()
    assert held_queue.names().count("plan_goal") == 1  # plan again's, and no more
    keys = [k for k in db.scalars(select(CreditLedgerEntry.idempotency_key)
                                  .where(CreditLedgerEntry.goal_id == goal.id))]
    assert sorted(k for k in keys if k and ":plan" in k) == [
        f"goal:{goal.id}:plan1:reserve", f"goal:{goal.id}:plan1:settle",
        f"goal:{goal.id}:plan2:reserve", f"goal:{goal.id}:plan2:settle"]


def test_plan_again_gives_a_fresh_budget_of_tries(
        db: Session, tenant: Tenant, held_queue: HeldQueue,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_MAX_TASK_ATTEMPTS", "2")
    get_settings.cache_clear()
    set_provider_override(BusyPlans())
    goal = make_goal(db, tenant, "Find suppliers")
    db.commit()
    assert _plan(db, goal.id, tenant.id).status == GoalStatus.PLANNING  # retried later
    goal = _plan(db, goal.id, tenant.id)
    assert goal.status == GoalStatus.FAILED and "did not answer after several tries" in \
        goal.status_reason
    ways_on.plan_again(db, tenant.ctx(), goal.id)
    db.commit()
    goal = _plan(db, goal.id, tenant.id)  # the third try overall, the first of this round
    assert goal.status == GoalStatus.PLANNING and goal.plan_attempts == 3
    assert held_queue.names().count("plan_goal") == 3  # a retry in each round, plan again
    assert goal.plan_round_start == 2


def test_edit_the_goal_then_plan_again(db: Session, tenant: Tenant, stopped: Goal,
                                       held_queue: HeldQueue) -> None:
    ctx = tenant.ctx(tenant.operator)
    with pytest.raises(InvalidInput) as bad:
        ways_on.edit_goal(db, ctx, stopped.id, title="  ", brief="x")
    assert bad.value.field == "title"
    with pytest.raises(InvalidInput) as long:
        ways_on.edit_goal(db, ctx, stopped.id, title="Newsletter", brief="x" * 6000)
    assert long.value.field == "brief"
    db.rollback()
    jobs = len(held_queue.jobs)
    for _ in range(2):
        goal = ways_on.edit_goal(db, ctx, stopped.id, title="A short newsletter",
                                 brief="Three paragraphs.")
        db.commit()
    assert (goal.title, goal.brief, goal.status) == ("A short newsletter", "Three paragraphs.",
                                                     GoalStatus.PLANNING)
    assert held_queue.names()[jobs:] == ["plan_goal"]
    edits = db.scalars(select(TaskEvent.message).where(TaskEvent.goal_id == goal.id,
                                                       TaskEvent.kind == "action")).all()
    assert edits == ["Goal edited: new title and brief."]
    with pytest.raises(Conflict):  # a different edit once planning runs again
        ways_on.edit_goal(db, ctx, stopped.id, title="Something else", brief="")


def test_start_from_a_simple_plan(db: Session, tenant: Tenant, stopped: Goal,
                                  held_queue: HeldQueue) -> None:
    ctx = tenant.ctx(tenant.operator)
    agents = roster(db, tenant)
    for wrong in ([], [agents["ceo"].id], [agents["writer"].id, 10**9]):
        with pytest.raises(InvalidInput) as bad:
            ways_on.simple_plan(db, ctx, stopped.id, wrong)
        assert bad.value.field == "agent_ids"
        db.rollback()
    chosen = [agents["writer"].id, agents["researcher"].id]
    jobs = len(held_queue.jobs)
    for _ in range(2):
        goal = ways_on.simple_plan(db, ctx, stopped.id, chosen)
        db.commit()
    assert goal.status == GoalStatus.RUNNING
    assert held_queue.names()[jobs:] == ["advance_goal"]
    cards = _tasks(db, goal.id)
    assert [(t.key, t.agent.slug, t.status) for t in cards] == [
        ("researcher", "researcher", TaskStatus.PLANNED), ("writer", "writer", TaskStatus.PLANNED)]
    assert all(t.instructions == "Monthly, for our regulars." for t in cards)
    assert cards[0].title == "Researcher: Launch a newsletter"
    assert "simple plan" in goal.plan_rationale
    assert board.needs_you_count(db, tenant.id) == 0


def test_a_disabled_specialist_cannot_be_chosen(db: Session, tenant: Tenant,
                                                stopped: Goal) -> None:
    writer = roster(db, tenant)["writer"]
    writer.enabled = False
    db.commit()
    with pytest.raises(InvalidInput, match="enabled specialists"):
        ways_on.simple_plan(db, tenant.ctx(), stopped.id, [writer.id])


def test_another_account_cannot_act_on_the_goal(db: Session, tenant: Tenant, stopped: Goal,
                                                held_queue: HeldQueue) -> None:
    other = make_tenant(db, "Other Co")
    db.commit()
    ctx = other.ctx()
    writer = roster(db, other)["writer"]
    jobs = len(held_queue.jobs)
    acts: list[Callable[[], Goal]] = [
        lambda: ways_on.plan_again(db, ctx, stopped.id),
        lambda: ways_on.edit_goal(db, ctx, stopped.id, title="Mine", brief=""),
        lambda: ways_on.simple_plan(db, ctx, stopped.id, [writer.id])]
    for act in acts:
        with pytest.raises(NotFound):
            act()
        db.rollback()
    assert ways_on.waiting_goals(db, other.id) == []
    assert board.needs_you_count(db, AccountId(other.id)) == 0
    db.refresh(stopped)
    assert stopped.status == GoalStatus.FAILED and held_queue.jobs[jobs:] == []


def test_a_goal_that_does_not_wait_offers_no_way_on(db: Session, tenant: Tenant,
                                                    held_queue: HeldQueue) -> None:
    goal = make_goal(db, tenant, "Still planning")
    db.commit()
    assert ways_on.waiting_goal(db, tenant.id, goal) is None
    writer = roster(db, tenant)["writer"].id
    with pytest.raises(Conflict, match="planning, not waiting for you"):
        ways_on.simple_plan(db, tenant.ctx(), goal.id, [writer])  # the CEO agent is at it
    db.rollback()
    actions.cancel_goal(db, tenant.ctx(), goal.id)
    db.commit()
    acts: list[Callable[[], Goal]] = [
        lambda: ways_on.plan_again(db, tenant.ctx(), goal.id),
        lambda: ways_on.simple_plan(db, tenant.ctx(), goal.id, [writer])]
    for act in acts:
        with pytest.raises(Conflict, match="cancelled, not waiting for you"):
            act()
        db.rollback()

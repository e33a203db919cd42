"""Work that failed for good and a re-plan that failed too: the goal and its failed card
wait for the operator, each with its reason in plain words and its ways on."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.agents.conftest import wait_for_goal
from tests.factories import Tenant, make_planned_goal, plan_of, roster
from tests.support.broken_models import CutOffAnswers
from web4os.agents.providers import set_provider_override
from web4os.goals import board, ways_on
from web4os.goals.models import Goal, GoalStatus, Task, TaskEvent, TaskStatus
from web4os.workers.embedded import EmbeddedRunner


@pytest.fixture
def model() -> CutOffAnswers:
    m = CutOffAnswers(purposes=("replan",), cards=("Task a",))
    set_provider_override(m)
    return m


@pytest.fixture
def stuck(db: Session, tenant: Tenant, runner: EmbeddedRunner, model: CutOffAnswers) -> Goal:
    """Card c is done; card a failed for good (its answer cut off), the re-plan too."""
    goal = make_planned_goal(db, tenant, plan_of(("c", "analyst", []), ("a", "researcher", ["c"]),
                                                 ("b", "writer", ["a"])))
    db.commit()
    runner.submit("advance_goal", {"goal_id": goal.id, "account_id": tenant.id})
    return wait_for_goal(db, runner, goal.id, GoalStatus.FAILED)


def _cards(db: Session, goal_id: int) -> dict[str, Task]:
    return {t.key: t for t in db.scalars(select(Task).where(Task.goal_id == goal_id)).unique()}


def test_the_goal_and_its_failed_card_wait_with_plain_reasons(
        db: Session, tenant: Tenant, stuck: Goal) -> None:
    cards = _cards(db, stuck.id)
    a = cards["a"]
    assert (cards["c"].status, a.status, cards["b"].status) == (
        TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.PLANNED)
    assert a.status_reason.startswith("Researcher's model answered twice with something that "
                                      "is not complete JSON")
    assert a.status_reason.endswith("Retry, edit the instructions, or reassign the card.")
    failed = db.scalars(select(TaskEvent).where(TaskEvent.task_id == a.id,
                                                TaskEvent.to_status == "failed")).one()
    assert "not valid after a retry" in failed.data["detail"]  # the technical words, kept

    assert stuck.status_reason.startswith("Waiting for you: “Task a” failed and the CEO agent "
                                          "could not re-plan.")
    assert stuck.status_reason.endswith("or plan again.")
    [w] = ways_on.waiting_goals(db, tenant.id)
    assert w.has_cards and w.failed_attempts == 1 and w.failed_credits >= 2
    assert [t.id for t in board.needs_you(db, tenant.id)] == [a.id]
    assert board.needs_you_count(db, tenant.id) == 2  # the goal, and its failed card


def test_plan_again_grants_one_more_replan(db: Session, tenant: Tenant, stuck: Goal,
                                           runner: EmbeddedRunner, model: CutOffAnswers) -> None:
    model.healthy = True
    goal = ways_on.plan_again(db, tenant.ctx(tenant.operator), stuck.id)
    assert goal.status == GoalStatus.RUNNING and goal.replans_allowed == 2
    db.commit()
    goal = wait_for_goal(db, runner, stuck.id, GoalStatus.COMPLETED)
    assert goal.replans == 2
    cards = _cards(db, goal.id)
    assert cards["a"].status == cards["b"].status == TaskStatus.CANCELLED
    assert cards["a-r2"].status == cards["b-r2"].status == TaskStatus.DONE
    assert board.needs_you_count(db, tenant.id) == 0


def test_a_simple_plan_replaces_the_unfinished_cards_after_the_done_ones(
        db: Session, tenant: Tenant, stuck: Goal, runner: EmbeddedRunner) -> None:
    writer = roster(db, tenant)["writer"]
    ways_on.simple_plan(db, tenant.ctx(tenant.operator), stuck.id, [writer.id])
    db.commit()
    goal = wait_for_goal(db, runner, stuck.id, GoalStatus.COMPLETED)
    cards = _cards(db, goal.id)
    assert cards["a"].status == cards["b"].status == TaskStatus.CANCELLED
    assert cards["a"].status_reason == "Replaced by the simple plan the operator chose."
    assert cards["c"].status == cards["writer"].status == TaskStatus.DONE
    from web4os.goals.service import dependency_map

    assert dependency_map(db, tenant.id, goal.id)[cards["writer"].id] == [cards["c"].id]

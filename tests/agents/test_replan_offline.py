"""Re-planning with the built-in offline model: it can re-plan too, so a zero-config
install recovers from a card that failed for good."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.agents.conftest import wait_for_goal
from tests.factories import Tenant, make_planned_goal, plan_of
from web4os.agents.providers import ModelError, ModelReply, ModelRequest, OfflineModel, set_provider_override
from web4os.goals import actions, replanning
from web4os.goals.models import Goal, GoalStatus, Task, TaskEvent, TaskStatus
from web4os.goals.replanning import replan_event_kinds
from web4os.workers.embedded import EmbeddedRunner


class FailsFirstTry:
    """The offline model, except the first call for "Task a" fails for good (a 400)."""

    label = "flaky"
    offline = True

    def __init__(self) -> None:
        self.inner = OfflineModel()
        self.failed = False

    def complete(self, request: ModelRequest) -> ModelReply:
        text = request.messages[-1]["content"]
        if request.purpose == "task" and "TASK: Task a" in text and not self.failed:
            self.failed = True
            raise ModelError("The model endpoint answered 400: bad request", retryable=False,
                             status=400)
        return self.inner.complete(request)


def _replanned_once(db: Session, runner: EmbeddedRunner, tenant: Tenant, goal: Goal,
                    model: FailsFirstTry) -> Goal:
    """Run ``goal`` with ``model`` answering: it completes after exactly one re-plan."""
    db.commit()
    set_provider_override(model)
    runner.submit("advance_goal", {"goal_id": goal.id, "account_id": tenant.id})
    goal = wait_for_goal(db, runner, goal.id)
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    assert goal.replans == 1
    return goal


def test_the_offline_model_replans_failed_work_under_new_keys(
    db: Session, tenant: Tenant, runner: EmbeddedRunner,
) -> None:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []),
                                                 ("b", "writer", ["a"]),
                                                 ("c", "analyst", [])))
    goal = _replanned_once(db, runner, tenant, goal, FailsFirstTry())
    tasks = {t.key: t for t in db.scalars(select(Task).where(Task.goal_id == goal.id)).unique()}
    assert tasks["a"].status == tasks["b"].status == TaskStatus.CANCELLED
    assert tasks["c"].status == TaskStatus.DONE  # done work is kept, not redone
    assert tasks["a-r2"].status == tasks["b-r2"].status == TaskStatus.DONE
    from web4os.goals.service import dependency_map

    deps = dependency_map(db, tenant.id, goal.id)
    assert deps[tasks["b-r2"].id] == [tasks["a-r2"].id]  # wired like the old plan
    assert "Second try" in tasks["a-r2"].instructions


class ReplanBusyOnce(FailsFirstTry):
    """Like ``FailsFirstTry``, and the first re-plan call meets a busy endpoint (a 503)."""

    def __init__(self) -> None:
        super().__init__()
        self.busy = False

    def complete(self, request: ModelRequest) -> ModelReply:
        if request.purpose == "replan" and not self.busy:
            self.busy = True
            raise ModelError("The model endpoint answered 503: busy", retryable=True, status=503)
        return super().complete(request)


def test_a_busy_endpoint_during_the_replan_is_retried_and_does_not_use_up_the_replan(
    db: Session, tenant: Tenant, runner: EmbeddedRunner, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(replanning, "backoff", lambda attempt: 0.05)
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []),
                                                 ("b", "writer", ["a"])))
    goal = _replanned_once(db, runner, tenant, goal, ReplanBusyOnce())
    assert replan_event_kinds(db, tenant.id, goal.id) == ["replan_started", "replan_started",
                                                          "replanned"]
    retry = db.scalars(select(TaskEvent).where(TaskEvent.goal_id == goal.id,
                                               TaskEvent.kind == "retry")).one()
    assert "503" in retry.message and "re-plan again" in retry.message


class ReplanBusyWhileTold(FailsFirstTry):
    """Like ``FailsFirstTry``; every re-plan call meets a busy endpoint while ``busy``."""

    def __init__(self) -> None:
        super().__init__()
        self.busy = True

    def complete(self, request: ModelRequest) -> ModelReply:
        if request.purpose == "replan" and self.busy:
            raise ModelError("The model endpoint answered 503: busy", retryable=True, status=503)
        return super().complete(request)


def test_an_endpoint_busy_through_every_replan_try_leaves_the_replan_unused(
    db: Session, tenant: Tenant, runner: EmbeddedRunner, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The goal waits for the operator, but keeps its re-plan: when its work fails for
    good again, the CEO agent re-plans it instead of the goal stopping at once."""
    monkeypatch.setattr(replanning, "backoff", lambda attempt: 0.05)
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []),
                                                 ("b", "writer", ["a"])))
    db.commit()
    model = ReplanBusyWhileTold()
    set_provider_override(model)
    runner.submit("advance_goal", {"goal_id": goal.id, "account_id": tenant.id})
    goal = wait_for_goal(db, runner, goal.id)
    assert goal.status == GoalStatus.FAILED, goal.status_reason
    assert "could not re-plan" in goal.status_reason and "503" in goal.status_reason
    assert (goal.replans, goal.replans_allowed) == (0, 1)

    # The endpoint is back; the operator retries the card, and it fails for good again.
    model.busy, model.failed = False, False
    a = db.scalars(select(Task).where(Task.goal_id == goal.id, Task.key == "a")).unique().one()
    actions.retry(db, tenant.ctx(), a.id)
    db.commit()
    goal = wait_for_goal(db, runner, goal.id)
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    assert (goal.replans, goal.replans_allowed) == (1, 1)
    assert replan_event_kinds(db, tenant.id, goal.id)[-1] == "replanned"

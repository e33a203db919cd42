"""The planning job starts the plan's first cards itself, in the transaction that saves
the plan; an account suspended while its plan was being made gets none started."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.factories import HeldQueue, Tenant, make_goal
from web4os.accounts.models import Account, AccountStatus
from web4os.db import session_factory
from web4os.goals import planning
from web4os.goals import prompts as brain
from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus


def _statuses(db: Session, goal_id: int) -> list[TaskStatus]:
    db.rollback()
    return list(db.scalars(select(Task.status).where(Task.goal_id == goal_id)))


def test_the_plans_first_cards_are_queued_by_the_planning_job(
        db: Session, tenant: Tenant, held_queue: HeldQueue) -> None:
    goal = make_goal(db, tenant)
    db.commit()
    planning.plan_goal(goal.id, account_id=tenant.id)
    statuses = _statuses(db, goal.id)
    assert db.scalar(select(Goal.status).where(Goal.id == goal.id)) == GoalStatus.RUNNING
    queued = statuses.count(TaskStatus.QUEUED)
    assert queued >= 1 and queued + statuses.count(TaskStatus.PLANNED) == len(statuses)
    assert held_queue.names().count("run_task") == queued
    assert "advance_goal" not in held_queue.names()


def test_a_suspended_account_gets_its_plan_but_no_card_started(
        db: Session, tenant: Tenant, held_queue: HeldQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    goal_id, account_id = make_goal(db, tenant).id, tenant.id
    db.commit()
    db.close()  # holds nothing while the job runs
    plan = brain.plan_goal

    def suspended_meanwhile(*args: object, **kwargs: object) -> object:
        with session_factory()() as admin:  # an admin suspends it while the model works
            admin.execute(update(Account).where(Account.id == account_id)
                          .values(status=AccountStatus.SUSPENDED))
            admin.commit()
        return plan(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(brain, "plan_goal", suspended_meanwhile)
    planning.plan_goal(goal_id, account_id=account_id)
    statuses = _statuses(db, goal_id)
    assert statuses and set(statuses) == {TaskStatus.PLANNED}, statuses
    assert "run_task" not in held_queue.names()

"""A goal whose every card the operator cancels closes as cancelled instead of staying
'running' with nothing left to do; one done card still gets its summary."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tests.conftest import TEST_DB_URL
from tests.factories import Tenant, make_planned_goal, plan_of
from web4os.db import session_factory
from web4os.goals import actions
from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus
from web4os.goals.scheduling import advance_goal
from web4os.workers.embedded import EmbeddedRunner


def _cards(db: Session, goal: Goal) -> list[Task]:
    return list(db.query(Task).filter_by(goal_id=goal.id).order_by(Task.id))


def test_cancelling_every_card_closes_the_goal(db: Session, tenant: Tenant,
                                               runner: EmbeddedRunner) -> None:
    goal = make_planned_goal(db, tenant, plan_of(("a", "writer", []), ("b", "writer", ["a"])))
    db.commit()
    cancel_as_a_request = session_factory(TEST_DB_URL)  # immediate, as the web's sessions
    for card in _cards(db, goal):
        # The first cancel wakes the runner, which writes while the second is made; a
        # deferred session that has read would meet a stale snapshot and fail.
        with cancel_as_a_request() as s:
            actions.cancel(s, tenant.ctx(), card.id)
            s.commit()
    runner.wait_idle()
    db.rollback()  # end the read that listed the cards: see what the runner committed
    closed = db.get(Goal, goal.id)
    assert closed is not None and closed.status == GoalStatus.CANCELLED
    assert "Every card was cancelled" in closed.status_reason
    advance_goal(goal.id, account_id=tenant.id)  # a redelivered advance changes nothing
    db.expire_all()
    assert db.get(Goal, goal.id).status == GoalStatus.CANCELLED  # type: ignore[union-attr]


def test_a_goal_with_one_card_left_keeps_running(db: Session, tenant: Tenant,
                                                 runner: EmbeddedRunner) -> None:
    goal = make_planned_goal(db, tenant, plan_of(("a", "writer", []), ("b", "writer", [])))
    db.commit()
    first = _cards(db, goal)[0]
    actions.cancel(db, tenant.ctx(), first.id)
    db.commit()
    advance_goal(goal.id, account_id=tenant.id)
    db.expire_all()
    assert db.get(Goal, goal.id).status != GoalStatus.CANCELLED  # type: ignore[union-attr]
    assert db.get(Task, first.id).status == TaskStatus.CANCELLED  # type: ignore[union-attr]

"""Fixtures of the goal tests: a model whose plans come back cut off, and the goal it stops."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_goal
from tests.support.broken_models import CutOffAnswers
from web4os.agents.providers import set_provider_override
from web4os.goals import planning
from web4os.goals.models import Goal


@pytest.fixture
def model() -> CutOffAnswers:
    m = CutOffAnswers()
    set_provider_override(m)
    return m


def stop_at_planning(db: Session, tenant: Tenant) -> Goal:
    """A goal planned once with the cut-off model installed: it waits for the operator."""
    goal = make_goal(db, tenant, "Launch a newsletter", brief="Monthly, for our regulars.")
    db.commit()
    planning.plan_goal(goal.id, account_id=tenant.id)
    db.rollback()
    db.refresh(goal)
    return goal

"""Fixtures for the agent tests: a FakeOpenAI endpoint wired in through settings only."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from tests.support.fake_openai import FakeOpenAI
from web4os.agents.providers.cooldowns import COOLDOWNS
from web4os.agents.providers.openai_compat import forget_json_modes
from web4os.agents.providers.windows import forget_windows
from web4os.config import get_settings
from web4os.goals.models import Goal, GoalStatus
from web4os.workers.embedded import EmbeddedRunner


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    forget_json_modes()
    forget_windows()
    COOLDOWNS.clear()  # a 429 of an earlier test's endpoint slows nobody here
    with FakeOpenAI() as f:
        yield f
        assert not f.server_errors, f.server_errors
    forget_json_modes()
    forget_windows()


@pytest.fixture
def endpoint(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """Configure the app for the fake the way an operator would: environment only."""
    monkeypatch.setenv("WEB4OS_OPENAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("WEB4OS_OPENAI_API_KEY", "sk-test-global")
    monkeypatch.setenv("WEB4OS_OPENAI_MODEL", "fake-model")
    monkeypatch.setenv("WEB4OS_MODEL_MAX_RETRIES", "0")
    monkeypatch.setenv("WEB4OS_MODEL_TIMEOUT_SECONDS", "10")
    get_settings.cache_clear()
    yield fake
    get_settings.cache_clear()


def wait_for_goal(db: Session, runner: EmbeddedRunner, goal_id: int, *statuses: GoalStatus,
                  timeout: float = 30.0) -> Goal:
    """Run jobs until the goal reaches one of ``statuses`` (and the runner is idle)."""
    wanted = statuses or (GoalStatus.COMPLETED, GoalStatus.FAILED)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runner.wait_idle(timeout=5)
        db.rollback()
        goal = db.get(Goal, goal_id)
        assert goal is not None
        db.refresh(goal)
        if goal.status in wanted:
            runner.wait_idle(timeout=5)
            db.rollback()
            return goal
    raise AssertionError(f"goal {goal_id} did not reach {wanted}")

"""Whole goals on a REAL llama.cpp server (Gemma 3 270M), configured as the README says:
plan, cards, reviews and summary, run to rest by the embedded runner.

The model is tiny and writes poor prose; what is checked is the machinery: every
request fits the server's per-slot context, every structured answer is accepted or
repaired, and the goal comes to rest either completed or waiting for the operator with
a plain message (a card to approve, a card that failed for good, a goal it could not
plan) — never a card failed for a format reason. Skipped without the ``dev``
extra on a laptop; in CI that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import IS_POSTGRES
from tests.factories import Tenant, make_goal
from web4os.agents.providers.openai_compat import forget_json_modes
from web4os.config import get_settings
from web4os.goals.models import Goal, GoalStatus, Task, TaskEvent, TaskStatus
from web4os.goals.statemachine import WAITING_ON_OPERATOR
from web4os.localmodel import MODEL_ALIAS, llama_available, running_llama_server
from web4os.workers.embedded import EmbeddedRunner

pytestmark = [
    pytest.mark.llama,
    pytest.mark.skipif(IS_POSTGRES, reason="a model test: it runs in the SQLite pass"),
]

FORMAT_WORDS = ("not valid", "json", "schema", "format", "context")


@pytest.fixture(scope="module")
def readme_llama_url() -> Iterator[str]:
    """The server as the README starts it: 8,192 tokens shared by 4 slots, 2,048 each."""
    ok, reason = llama_available()
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"llama extra missing in CI: {reason}")
        pytest.skip(reason)
    with running_llama_server(n_ctx=8192, parallel=4, threads=2) as base_url:
        yield base_url


@pytest.fixture
def on_llama(readme_llama_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    llama_url = readme_llama_url
    forget_json_modes()
    monkeypatch.setenv("WEB4OS_OPENAI_BASE_URL", llama_url)
    monkeypatch.setenv("WEB4OS_OPENAI_API_KEY", "not-needed")
    monkeypatch.setenv("WEB4OS_OPENAI_MODEL", MODEL_ALIAS)
    monkeypatch.setenv("WEB4OS_MAX_PLAN_TASKS", "3")  # a short goal: CI time, not realism
    monkeypatch.setenv("WEB4OS_MODEL_TIMEOUT_SECONDS", "300")
    monkeypatch.setenv("WEB4OS_MODEL_MAX_RETRIES", "0")
    get_settings.cache_clear()
    yield llama_url
    get_settings.cache_clear()
    forget_json_modes()


def test_a_goal_runs_to_rest_on_the_local_model(
    on_llama: str, runner: EmbeddedRunner, db: Session, tenant: Tenant,
) -> None:
    goal = make_goal(db, tenant, "Launch a monthly newsletter for our bakery",
                     brief="800 customers gave us their email.")
    db.commit()
    runner.submit("plan_goal", {"goal_id": goal.id, "account_id": tenant.id})
    assert runner.wait_idle(900), "the goal still had work after 15 minutes"

    db.rollback()
    found = db.get(Goal, goal.id)
    assert found is not None
    goal = found
    cards = list(db.scalars(select(Task).where(Task.goal_id == goal.id)))
    calls = list(db.scalars(select(TaskEvent).where(TaskEvent.goal_id == goal.id,
                                                    TaskEvent.kind == "model_call")))
    purposes = {c.data["purpose"] for c in calls}
    assert "plan" in purposes
    assert all(c.data.get("model") for c in calls if not c.data.get("error"))
    format_failures = [t for t in cards if t.status == TaskStatus.FAILED
                       and any(w in t.status_reason.lower() for w in FORMAT_WORDS)]
    assert format_failures == [], [t.status_reason for t in format_failures]
    if goal.status == GoalStatus.COMPLETED:
        assert cards and all(t.status in (TaskStatus.DONE, TaskStatus.CANCELLED) for t in cards)
        assert {"task", "summary"} <= purposes
        assert goal.summary
    elif goal.status == GoalStatus.RUNNING:  # at rest: cards wait for the operator
        waiting = [t for t in cards if t.status in WAITING_ON_OPERATOR]
        assert waiting, [(t.key, t.status) for t in cards]
        assert all(t.status_reason for t in waiting), [t.status_reason for t in waiting]
    else:  # at rest, waiting for the operator: it says why in plain words
        assert goal.status not in (GoalStatus.PLANNING, GoalStatus.COMPLETING), goal.status
        assert goal.status_reason, goal.status

"""An endpoint's 429s slow its callers and never fail a card: every call to an endpoint
that said 429 waits out its ``Retry-After``, and a card the endpoint keeps limiting is
retried past ``max_task_attempts`` until it gets through."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.orm import Session

from tests.agents.conftest import wait_for_goal
from tests.agents.test_goal_on_endpoint import ACCEPT, deliverable, plan_json, start, tasks_of
from tests.factories import Tenant
from tests.support.fake_openai import FakeOpenAI
from web4os.agents.providers import ModelError, ModelRequest
from web4os.agents.providers.openai_compat import OpenAICompatible
from web4os.config import get_settings
from web4os.goals.models import GoalStatus, TaskStatus
from web4os.workers.embedded import EmbeddedRunner

HI = ModelRequest([{"role": "user", "content": "hi"}], "task")


def test_a_429_slows_the_next_caller_of_that_endpoint(fake: FakeOpenAI) -> None:
    fake.error(429, "Slow down", headers={"retry-after-ms": "400"})
    fake.reply("fine")
    one = OpenAICompatible(base_url=fake.base_url, api_key="k", model="m", max_retries=0)
    other = OpenAICompatible(base_url=fake.base_url, api_key="k", model="m", max_retries=0)
    with pytest.raises(ModelError) as info:
        one.complete(HI)
    assert info.value.status == 429
    started = time.monotonic()
    assert other.complete(HI).content == "fine"
    assert time.monotonic() - started >= 0.35  # it waited out the endpoint's Retry-After


def test_a_card_the_endpoint_keeps_limiting_is_slowed_not_failed(
        endpoint: FakeOpenAI, runner: EmbeddedRunner, db: Session, tenant: Tenant) -> None:
    fake = endpoint
    limits = get_settings().max_task_attempts + 2
    fake.reply_json(plan_json(("research", "researcher", [])))
    for _ in range(limits):
        fake.error(429, "Slow down", headers={"retry-after-ms": "20"})
    fake.reply_json(deliverable("Research"))
    fake.reply_json(ACCEPT)
    fake.reply_json({"summary": "Done."})
    goal = wait_for_goal(db, runner, start(db, runner, tenant), GoalStatus.COMPLETED,
                         GoalStatus.FAILED)
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    card = tasks_of(db, goal.id)["research"]
    assert card.status == TaskStatus.DONE
    assert card.attempts == limits + 1  # more than max_task_attempts, and none failed it
    fake.assert_all_used()

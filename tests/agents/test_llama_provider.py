"""Our provider against a REAL llama.cpp server (tiny Gemma 3 270M, offline).

Checks structure, never quality: the schema-constrained answer validates against our
pydantic schema and its usage lands in the card history. The schema is small and
bounded (maxLength/maxItems) because the tiny model rambles up to max_tokens
otherwise (see tests/integration/test_llama_smoke.py). Skipped without the ``llama``
extra, except in CI where that is a failure.
"""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_goal
from web4os.agents.providers.openai_compat import OpenAICompatible
from web4os.agents.structured import CallRecord, ask_structured
from web4os.goals.history import record_calls
from web4os.goals.models import TaskEvent
from web4os.localmodel import MODEL_ALIAS

pytestmark = pytest.mark.llama


class Pitch(BaseModel):
    headline: str = Field(max_length=40)
    points: list[Annotated[str, Field(max_length=30)]] = Field(min_length=1, max_length=3)


def test_our_provider_gets_a_schema_valid_answer_and_usage_is_recorded(
    llama_url: str, db: Session, tenant: Tenant,
) -> None:
    provider = OpenAICompatible(base_url=llama_url, api_key="not-needed", model=MODEL_ALIAS,
                                timeout=120.0, max_retries=0)
    calls: list[CallRecord] = []
    pitch = ask_structured(
        provider,
        [{"role": "system", "content": "You are a marketer."},
         {"role": "user", "content": "Pitch a bakery newsletter. Answer with a JSON object: "
                                     '{"headline": str, "points": [str]}.'}],
        Pitch, purpose="task", agent_slug="marketer", calls=calls, max_tokens=200)
    assert isinstance(pitch, Pitch) and len(pitch.points) <= 3
    assert calls, "no call recorded"
    first = calls[0].reply
    assert first.model == MODEL_ALIAS and not first.offline
    assert first.prompt_tokens > 0 and first.completion_tokens > 0
    assert first.extra["json_mode"] == "json_schema"  # llama.cpp accepts json_schema

    goal = make_goal(db, tenant)
    record_calls(db, account_id=tenant.id, goal_id=goal.id, task_id=None, calls=calls)
    db.commit()
    [event, *_] = db.scalars(select(TaskEvent).where(TaskEvent.goal_id == goal.id,
                                                     TaskEvent.kind == "model_call")).all()
    assert event.data["prompt_tokens"] == first.prompt_tokens
    assert event.data["completion_tokens"] == first.completion_tokens
    assert event.data["model"] == MODEL_ALIAS and event.data["latency_ms"] > 0
    assert event.data["credits"] >= 1

"""The OpenAI-compatible provider through the real ``openai`` SDK, against FakeOpenAI
over HTTP on 127.0.0.1: structured plans, the repair re-ask, rejected plans,
rate limits, timeouts, the json_schema fallback and Azure deployment URLs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, Field

from tests.support.fake_openai import FakeOpenAI
from web4os.agents import prompts as brain
from web4os.agents.prompts import AgentBrief
from web4os.agents.providers import ModelError, ModelRequest
from web4os.agents.providers.openai_compat import OpenAICompatible
from web4os.agents.structured import CallRecord, StructuredOutputError, ask_structured
from web4os.goals import prompts as ceo_prompts

CEO = AgentBrief("ceo", "CEO", "Plans the work", "Plan well.")
ROSTER = [AgentBrief("researcher", "Researcher", "Finds facts", ""),
          AgentBrief("writer", "Writer", "Writes copy", "")]


def plan_json(*specs: tuple[str, str, list[str]]) -> dict[str, Any]:
    return {"rationale": "Because.", "tasks": [
        {"key": k, "title": f"Do {k}", "agent": a, "instructions": f"Please {k}.",
         "depends_on": d, "estimated_credits": 3, "requires_approval": False}
        for k, a, d in specs]}


def provider(fake: FakeOpenAI, **kw: Any) -> OpenAICompatible:
    opts: dict[str, Any] = {"base_url": fake.base_url, "api_key": "sk-test", "model": "fake-model",
                            "timeout": 5.0, "max_retries": 0}
    opts.update(kw)
    return OpenAICompatible(**opts)


def make_plan(p: OpenAICompatible, calls: list[CallRecord]) -> Any:
    return ceo_prompts.plan_goal(p, CEO, title="Launch a newsletter", brief="For a bakery",
                           roster=ROSTER, max_tasks=5, calls=calls)


def test_a_valid_plan_comes_back_validated(fake: FakeOpenAI) -> None:
    fake.reply_json(plan_json(("research", "researcher", []), ("draft", "writer", ["research"])),
                    prompt_tokens=120, completion_tokens=80)
    calls: list[CallRecord] = []
    plan = make_plan(provider(fake), calls)
    assert [t.key for t in plan.tasks] == ["research", "draft"]
    assert plan.tasks[1].depends_on == ["research"]
    sent = fake.last_request
    assert sent["model"] == "fake-model"
    assert sent["response_format"]["type"] == "json_schema"
    assert "tasks" in json.dumps(sent["response_format"]["json_schema"]["schema"])
    assert sent["headers"]["authorization"] == "Bearer sk-test"
    user = sent["messages"][-1]["content"]
    assert "GOAL: Launch a newsletter" in user and "- researcher: Researcher" in user
    [call] = calls
    assert (call.reply.prompt_tokens, call.reply.completion_tokens) == (120, 80)
    assert call.reply.model == "fake-model" and call.credits >= 1
    assert call.as_event_data()["json_mode"] == "json_schema"


def test_malformed_json_is_repaired_by_one_re_ask(fake: FakeOpenAI) -> None:
    fake.reply('{"rationale": "oops", "tasks": [ {"key": ')  # truncated JSON
    fake.reply("Sure! ```json\n" + json.dumps(plan_json(("research", "researcher", [])))
               + "\n```")
    calls: list[CallRecord] = []
    plan = make_plan(provider(fake), calls)
    assert [t.key for t in plan.tasks] == ["research"]
    assert len(fake.chat_requests) == 2 and len(calls) == 2
    repair = fake.chat_requests[1]["messages"]
    assert repair[-2] == {"role": "assistant",
                          "content": '{"rationale": "oops", "tasks": [ {"key": '}
    assert "That answer was not valid" in repair[-1]["content"]
    assert calls[1].as_event_data()["repair"] is True  # the repair call is metered too
    assert all(c.credits >= 1 for c in calls)


def test_a_plan_with_a_cycle_is_rejected_with_the_raw_answer(fake: FakeOpenAI) -> None:
    cyclic = plan_json(("a", "researcher", ["b"]), ("b", "writer", ["a"]))
    fake.reply_json(cyclic).reply_json(cyclic)
    calls: list[CallRecord] = []
    with pytest.raises(StructuredOutputError) as info:
        make_plan(provider(fake), calls)
    assert "cycle" in info.value.message
    assert json.loads(info.value.raw) == cyclic
    assert "dependency cycle" in fake.chat_requests[1]["messages"][-1]["content"]
    assert len(calls) == 2  # both answers are metered


def test_429_then_success_is_retried_by_the_sdk(fake: FakeOpenAI) -> None:
    fake.error(429, "Slow down", headers={"retry-after-ms": "10"})
    fake.reply_json({"verdict": "accept", "feedback": ""})
    calls: list[CallRecord] = []
    review = brain.review_task(provider(fake, max_retries=2), CEO,
                               brain.TaskContext("G", "", "T", "Do it"), "A deliverable", calls)
    assert review.verdict == "accept"
    assert len(fake.chat_requests) == 2
    assert calls[0].reply.extra["retries"] == 1


def test_429_after_the_sdk_retries_is_a_retryable_model_error(fake: FakeOpenAI) -> None:
    fake.error(429, "Slow down", headers={"retry-after": "7"})
    with pytest.raises(ModelError) as info:
        provider(fake).complete(ModelRequest([{"role": "user", "content": "hi"}], "task"))
    assert info.value.retryable and info.value.status == 429
    assert info.value.retry_after == 7.0


def test_a_timeout_is_a_retryable_model_error_and_is_recorded(fake: FakeOpenAI) -> None:
    fake.delay(3.0, "too late")
    calls: list[CallRecord] = []
    with pytest.raises(ModelError) as info:
        ask_structured(provider(fake, timeout=0.3), [{"role": "user", "content": "hi"}],
                       ceo_prompts.Summary, purpose="summary", agent_slug="ceo", calls=calls)
    assert info.value.retryable
    assert "did not answer within" in str(info.value)
    [call] = calls  # the failed call is on record, with no tokens and no charge
    assert call.credits == 0 and call.reply.prompt_tokens == 0
    assert "did not answer" in str(call.as_event_data()["error"])


def test_bad_request_and_auth_errors_are_not_retryable(fake: FakeOpenAI) -> None:
    fake.error(401, "Incorrect API key").error(400, "context length exceeded")
    p = provider(fake)
    for status in (401, 400):
        with pytest.raises(ModelError) as info:
            p.complete(ModelRequest([{"role": "user", "content": "hi"}], "task"))
        assert not info.value.retryable and info.value.status == status


class Tiny(BaseModel):
    answer: str = Field(max_length=20)


def test_rejected_json_schema_falls_back_to_json_object_then_text(fake: FakeOpenAI) -> None:
    fake.error(400, "response_format type json_schema is not supported by this model")
    fake.error(400, "Invalid value for 'response_format': json_object")
    fake.reply('Here you go: {"answer": "yes"}')
    fake.reply('{"answer": "again"}')
    p = provider(fake)
    calls: list[CallRecord] = []
    out = ask_structured(p, [{"role": "user", "content": "Answer in JSON"}], Tiny,
                         purpose="task", agent_slug="writer", calls=calls)
    assert out.answer == "yes"
    formats = [r.get("response_format", {}).get("type") for r in fake.chat_requests]
    assert formats == ["json_schema", "json_object", None]
    data = calls[0].as_event_data()
    assert data["json_mode"] == "text"
    assert data["rejected_modes"] == ["json_schema", "json_object"]
    # The fallback is remembered for this endpoint: the next call goes straight to text.
    ask_structured(p, [{"role": "user", "content": "Answer in JSON"}], Tiny,
                   purpose="task", agent_slug="writer", calls=calls)
    assert "response_format" not in fake.chat_requests[-1]


def test_azure_uses_deployment_urls_and_the_api_version(fake: FakeOpenAI) -> None:
    base = fake.base_url.removesuffix("/v1")
    p = provider(fake, base_url=base, api_version="2024-10-21", model="my-deployment")
    with pytest.raises(ModelError) as info:  # the fake only serves /v1: a 404 is expected
        p.complete(ModelRequest([{"role": "user", "content": "hi"}], "task"))
    assert info.value.status == 404 and not info.value.retryable
    sent = fake.requests[-1]
    assert sent["path"] == "/openai/deployments/my-deployment/chat/completions"
    assert sent["headers"]["api-key"] == "sk-test"

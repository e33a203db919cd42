"""Plans asked with a schema built from the live context, on endpoints with strict
``json_schema`` (OpenAI style), ``json_object`` only and text only; and the repairs
that understand the mistake: a near-miss agent name, a cut-off answer, prose for a
deliverable."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.fake_openai import FakeOpenAI
from tests.support.json_schemas import conforms, keywords, strict_ready
from web4os.agents.prompts import PROSE_NOTE, AgentBrief, TaskContext, do_task
from web4os.agents.providers.openai_compat import OpenAICompatible
from web4os.agents.structured import CallRecord, StructuredOutputError
from web4os.goals import prompts as ceo_prompts
from web4os.goals.schemas import Plan

CEO = AgentBrief("ceo", "CEO", "Plans the work", "Plan well.")
ROSTER = [AgentBrief("researcher", "Researcher", "Finds facts", ""),
          AgentBrief("writer", "Writer", "Writes copy", ""),
          AgentBrief("marketer", "Marketer", "Plans channels", "")]
NOT_SUPPORTED = "response_format type json_schema is not supported by this model"


def slot(agent: str, deps: list[str] | None = None) -> dict[str, Any]:
    return {"title": f"Work for {agent}", "agent": agent, "instructions": "Do it well.",
            "depends_on": deps or [], "estimated_credits": 3, "requires_approval": False}


SLOTS = {"rationale": "Research, then write.",
         "tasks": {"t1": slot("researcher"), "t2": slot("writer", ["t1"])}}


def provider(fake: FakeOpenAI) -> OpenAICompatible:
    return OpenAICompatible(base_url=fake.base_url, api_key="sk-test", model="fake-model",
                            timeout=5.0, max_retries=0)


def make_plan(p: OpenAICompatible, calls: list[CallRecord], max_tasks: int = 5) -> Plan:
    return ceo_prompts.plan_goal(p, CEO, title="Launch a newsletter", brief="For a bakery",
                                 roster=ROSTER, max_tasks=max_tasks, calls=calls)


def sent_schema(request: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = request["response_format"]["json_schema"]["schema"]
    return schema


def test_the_plan_schema_is_strict_and_built_from_the_roster_and_the_limit(
    fake: FakeOpenAI,
) -> None:
    fake.reply_json(SLOTS)
    plan = make_plan(provider(fake), [], max_tasks=3)
    assert [(t.key, t.agent, t.depends_on) for t in plan.tasks] == [
        ("t1", "researcher", []), ("t2", "writer", ["t1"])]
    fmt = fake.last_request["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = sent_schema(fake.last_request)
    assert strict_ready(schema) and conforms(schema, SLOTS)
    assert schema["$defs"]["t1"]["properties"]["agent"]["enum"] == [
        "researcher", "writer", "marketer"]
    assert len(schema["properties"]["tasks"]["anyOf"]) == 3  # 1, 2 or 3 tasks
    assert not conforms(schema, {**SLOTS, "tasks": {"t1": slot("marketing")}})
    assert not conforms(schema, {**SLOTS, "tasks": {f"t{i}": slot("writer") for i in (1, 2, 3, 4)}})
    user = fake.last_request["messages"][-1]["content"]
    assert "Plan at most 3 tasks" in user and "Name the tasks in order: t1, t2, t3" in user


def test_keywords_strict_mode_refuses_are_dropped_and_the_schema_stays_strict(
    fake: FakeOpenAI,
) -> None:
    fake.error(400, "Invalid schema for response_format 'plan': In context=('properties', "
               "'title'), 'maxLength' is not permitted.")
    fake.error(400, "Invalid schema for response_format 'plan': In context=('properties', "
               "'title'), 'minLength' is not permitted.")
    fake.reply_json(SLOTS).reply_json(SLOTS)
    p = provider(fake)
    calls: list[CallRecord] = []
    make_plan(p, calls)
    first, _, third = fake.chat_requests
    assert {"maxLength", "minLength"} <= keywords(sent_schema(first))
    assert not {"maxLength", "minLength"} & keywords(sent_schema(third))
    assert third["response_format"]["json_schema"]["strict"] is True
    assert strict_ready(sent_schema(third)) and "enum" in keywords(sent_schema(third))
    data = calls[0].as_event_data()
    assert data["json_mode"] == "json_schema"
    assert data["dropped_keywords"] == ["maxLength", "minLength"]
    make_plan(p, calls)  # remembered: the next plan goes out without them at once
    assert len(fake.chat_requests) == 4
    assert "maxLength" not in keywords(sent_schema(fake.last_request))


def test_a_json_object_endpoint_gets_the_format_from_the_prompt(fake: FakeOpenAI) -> None:
    fake.error(400, NOT_SUPPORTED).reply_json(SLOTS)
    calls: list[CallRecord] = []
    plan = make_plan(provider(fake), calls)
    assert [t.key for t in plan.tasks] == ["t1", "t2"]
    assert fake.last_request["response_format"] == {"type": "json_object"}
    user = fake.last_request["messages"][-1]["content"]
    assert '"tasks": {"t1": {…}, "t2": {…}}' in user
    assert calls[0].as_event_data()["json_mode"] == "json_object"


def test_a_text_only_endpoint_gets_its_json_read_out_of_the_prose(fake: FakeOpenAI) -> None:
    fake.error(400, NOT_SUPPORTED).error(400, "Invalid value for 'response_format'")
    fake.reply("Here is my plan:\n```json\n" + json.dumps(SLOTS) + "\n```\nGood luck!")
    plan = make_plan(provider(fake), [])
    assert [t.agent for t in plan.tasks] == ["researcher", "writer"]
    assert "response_format" not in fake.last_request


def test_a_near_miss_agent_name_is_mapped_to_the_roster_and_said(fake: FakeOpenAI) -> None:
    fake.error(400, NOT_SUPPORTED)  # json_object: nothing holds the model to the roster
    fake.reply_json({"rationale": "", "tasks": {
        "t1": slot("Research"), "t2": slot("marketing", ["t1"]), "t3": slot("writing")}})
    calls: list[CallRecord] = []
    plan = make_plan(provider(fake), calls)
    assert [t.agent for t in plan.tasks] == ["researcher", "marketer", "writer"]
    assert len(fake.chat_requests) == 2  # no re-ask needed
    repairs = calls[-1].reply.extra["repairs"]
    assert len(repairs) == 3
    assert "“marketing”" in repairs[1] and "Marketer (marketer)" in repairs[1]


def test_a_name_nobody_is_close_to_is_still_refused(fake: FakeOpenAI) -> None:
    bad = {"rationale": "", "tasks": {"t1": slot("accountant")}}
    fake.reply_json(bad).reply_json(bad)
    with pytest.raises(StructuredOutputError) as info:
        make_plan(provider(fake), [])
    assert "not on the roster" in info.value.message


def test_a_cut_off_answer_is_asked_again_shorter(fake: FakeOpenAI) -> None:
    cut = json.dumps(SLOTS)[:70]
    fake.reply(cut, finish_reason="length", completion_tokens=1654)
    fake.reply_json(SLOTS)
    calls: list[CallRecord] = []
    plan = make_plan(provider(fake), calls, max_tasks=12)
    assert len(plan.tasks) == 2
    first, second = fake.chat_requests
    assert [m["role"] for m in second["messages"]] == ["system", "user", "user"]  # not the cut
    assert "cut off at the length limit (1654 tokens)" in second["messages"][-1]["content"]
    room = [sent_schema(r)["$defs"]["t1"]["properties"]["instructions"]["maxLength"]
            for r in (first, second)]
    assert room[1] < room[0] / 2  # the second answer is held to shorter texts
    assert "Plan at most" in second["messages"][1]["content"]
    assert "cut off" in calls[0].reply.extra["repairs"][0]
    assert calls[1].as_event_data()["repair"] is True


def test_prose_instead_of_a_deliverable_is_kept_and_marked(fake: FakeOpenAI) -> None:
    prose = ("Here is the first issue of the newsletter. We bake every morning at five, and "
             "this week we introduce a rye loaf with caraway, a seeded sourdough and a small "
             "cinnamon bun for the school run.")
    fake.reply(prose)
    calls: list[CallRecord] = []
    out = do_task(provider(fake), ROSTER[1], TaskContext("Newsletter", "", "Draft", "Write it"),
                  calls)
    assert out.deliverable == prose and out.note == PROSE_NOTE
    assert len(fake.chat_requests) == 1
    assert calls[0].reply.extra["repairs"] == [PROSE_NOTE]


def test_a_few_words_of_prose_are_not_a_deliverable(fake: FakeOpenAI) -> None:
    fake.reply("Sorry, I cannot help with that.").reply("Still cannot.")
    with pytest.raises(StructuredOutputError):
        do_task(provider(fake), ROSTER[1], TaskContext("Newsletter", "", "Draft", "Write it"), [])
    assert "That answer was not valid" in fake.last_request["messages"][-1]["content"]

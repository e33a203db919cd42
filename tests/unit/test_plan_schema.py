"""The plan schema built from the live context: whatever follows it passes the planning
rules (roster, limit, keys, dependencies), and its texts fit the answer's tokens."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from tests.support.json_schemas import conforms, strict_ready
from web4os.agents.budget import estimate_tokens
from web4os.goals.plan_schema import PlanShape, plan_schema, plan_shape, slot_keys
from web4os.goals.plans import validate_plan
from web4os.goals.schemas import Plan

ROSTER = ["researcher", "writer", "marketer"]
SHAPE = PlanShape(tasks=4, title_chars=60, instructions_chars=200)


def task(agent: str = "writer", deps: list[str] | None = None, *, title: str = "Do it",
         instructions: str = "Carefully.") -> dict[str, Any]:
    return {"title": title, "agent": agent, "instructions": instructions,
            "depends_on": deps or [], "estimated_credits": 3, "requires_approval": False}


def test_a_plan_following_the_schema_is_read_as_keyed_tasks() -> None:
    schema = plan_schema(SHAPE, ROSTER, slot_keys(4))
    answer = {"rationale": "Short.", "tasks": {"t1": task("researcher"),
                                                "t2": task("writer", ["t1"])}}
    assert conforms(schema, answer) and strict_ready(schema)
    plan = Plan.model_validate(answer)
    assert [(t.key, t.agent, t.depends_on) for t in plan.tasks] == [
        ("t1", "researcher", []), ("t2", "writer", ["t1"])]
    validate_plan(plan, ROSTER, max_tasks=4)


@pytest.mark.parametrize("tasks", [
    {"t1": task("marketing")},                                  # not on the roster
    {"t1": task(deps=["t2"]), "t2": task()},                    # depends on a later task
    {"t1": task(deps=["t1"])},                                  # on itself
    {"t1": task(), "t3": task()},                               # a gap
    {"t2": task()},                                             # not from the start
    {f"t{i}": task() for i in range(1, 6)},                     # over the limit of 4
    {"t1": task(title="x" * 61)},                               # title too long
    {"t1": task(instructions="x" * 201)},                       # instructions too long
    {"t1": {**task(), "estimated_credits": 0}},
    {},
])
def test_the_schema_refuses_what_the_rules_refuse(tasks: dict[str, Any]) -> None:
    schema = plan_schema(SHAPE, ROSTER, slot_keys(4))
    assert not conforms(schema, {"rationale": "", "tasks": tasks})


def test_a_replan_uses_fresh_keys_and_may_depend_on_done_work() -> None:
    taken = {"t1", "t2", "research"}
    keys = slot_keys(3, taken)
    assert keys == ["t3", "t4", "t5"]
    schema = plan_schema(SHAPE, ROSTER, keys, done=["research"])
    assert conforms(schema, {"rationale": "", "tasks": {"t3": task(deps=["research"]),
                                                     "t4": task(deps=["t3", "research"])}})
    assert not conforms(schema, {"rationale": "", "tasks": {"t3": task(deps=["t1"])}})  # cancelled
    assert not conforms(schema, {"rationale": "", "tasks": {"t1": task()}})  # a taken key


def test_anything_the_schema_allows_passes_the_planning_rules() -> None:
    rng = random.Random(18)
    keys = slot_keys(6, {"t2"})
    schema = plan_schema(PlanShape(6, 40, 80), ROSTER, keys, done=["done-a"])
    for _ in range(200):
        count = rng.randint(1, 6)
        tasks = {key: task(rng.choice(ROSTER),
                           rng.sample(["done-a", *keys[:i]], rng.randint(0, i + 1)))
                 for i, key in enumerate(keys[:count])}
        answer = {"rationale": "r", "tasks": tasks}
        assert conforms(schema, answer)
        validate_plan(Plan.model_validate(answer), ROSTER, max_tasks=6, done=["done-a"],
                      taken=["t2", "done-a"])


def test_a_small_answer_budget_asks_for_fewer_and_shorter_tasks() -> None:
    roomy, small, tiny = plan_shape(10_000, 12), plan_shape(1200, 12), plan_shape(150, 12)
    assert (roomy.tasks, roomy.instructions_chars) == (12, 600)
    assert small.tasks < 12 and small.instructions_chars < 600
    assert tiny.tasks == 1


@pytest.mark.parametrize("answer_tokens", [600, 1200, 2500, 6000])
def test_a_full_plan_of_the_shape_fits_its_answer_tokens(answer_tokens: int) -> None:
    shape = plan_shape(answer_tokens, 12)
    keys = slot_keys(shape.tasks)
    tasks = {key: task("operations", keys[max(0, i - 3):i], title="T" * shape.title_chars,
                       instructions="I" * shape.instructions_chars)
             for i, key in enumerate(keys)}
    answer = {"rationale": "R" * 200, "tasks": tasks}
    assert conforms(plan_schema(shape, ["operations"], keys), answer)
    assert estimate_tokens(json.dumps(answer, indent=2)) <= answer_tokens

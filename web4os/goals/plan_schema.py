"""The JSON schema a plan is asked for with, built from the live context so that a
decoder following it (llama.cpp, vLLM, OpenAI's strict mode) cannot write a plan the
planning rules reject.

Tasks are slots named by position — ``t1``, ``t2``, … (a re-plan's skip the keys in
use) — and a slot may depend only on the slots before it (and, in a re-plan, on
finished tasks): keys are unique and new, every dependency exists, and there can be
no cycle. Slots are an object rather than an array because per-position item schemas
(``prefixItems``) are not accepted by OpenAI's strict mode and llama.cpp turns them
into a fixed-length tuple; ``anyOf`` over 1..N filled slots keeps the count within
the limit, in order, with no gaps. ``Plan`` reads the slots back into its task list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from web4os.agents.budget import chars_for, closed_object, text_field, tokens_for

RATIONALE_CHARS = 200
TITLE_CHARS = 100
INSTRUCTIONS_CHARS = 600
MAX_ESTIMATE = 100  # credits a single task may be estimated at
# Characters each task takes besides its title and instructions (property names, the
# agent, numbers, three dependencies, indented by two spaces a level as small models
# write it), and what the plan takes besides its tasks.
TASK_FRAME_CHARS = 240
PLAN_FRAME_CHARS = 60 + RATIONALE_CHARS
LEAST_TEXT_CHARS = 140  # a title and instructions shorter than this help nobody


def answer_tokens(max_tasks: int) -> int:
    """Tokens a plan of ``max_tasks`` full tasks needs (what a plan request asks room for)."""
    return tokens_for(PLAN_FRAME_CHARS
                      + max_tasks * (TASK_FRAME_CHARS + TITLE_CHARS + INSTRUCTIONS_CHARS))


@dataclass(frozen=True)
class PlanShape:
    """How many tasks a plan may have and how long its texts may be."""

    tasks: int
    title_chars: int
    instructions_chars: int


def plan_shape(answer_tokens: int, max_tasks: int) -> PlanShape:
    """The most tasks (up to the limit) and the longest texts that fit the answer's tokens."""
    room = chars_for(answer_tokens) - PLAN_FRAME_CHARS
    tasks = max(1, max_tasks)
    while tasks > 1 and room // tasks - TASK_FRAME_CHARS < LEAST_TEXT_CHARS:
        tasks -= 1
    text = max(LEAST_TEXT_CHARS, room // tasks - TASK_FRAME_CHARS)
    title = min(TITLE_CHARS, max(30, text // 4))
    return PlanShape(tasks, title, min(INSTRUCTIONS_CHARS, max(40, text - title)))


def slot_keys(count: int, taken: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """``count`` task keys by position — t1, t2, … — skipping ``taken`` ones."""
    keys: list[str] = []
    n = 0
    while len(keys) < count:
        n += 1
        if f"t{n}" not in taken:
            keys.append(f"t{n}")
    return keys


def plan_schema(shape: PlanShape, roster: Sequence[str], keys: Sequence[str],
                done: Sequence[str] = ()) -> dict[str, Any]:
    """The schema of a plan of up to ``len(keys)`` tasks, named ``keys`` in order, assigned
    to the ``roster``'s specialists, depending on earlier tasks or ``done`` ones."""
    earlier = [*done, *keys]
    defs = {key: _task(shape, roster, earlier[:len(done) + i]) for i, key in enumerate(keys)}
    # One reference object per slot, shared by every ``anyOf`` branch: the branches grow
    # with the square of the slots (a plan of 200 tasks would otherwise take megabytes
    # for each plan call waiting on its model).
    refs = {key: {"$ref": f"#/$defs/{key}"} for key in keys}
    shapes = [closed_object({key: refs[key] for key in keys[:n]})
              for n in range(1, len(keys) + 1)]
    schema = closed_object({
        "rationale": text_field(RATIONALE_CHARS, about="Why this plan, in a sentence or two."),
        "tasks": {"anyOf": shapes} if len(shapes) > 1 else shapes[0],
    })
    schema["$defs"] = defs
    return schema


def _task(shape: PlanShape, roster: Sequence[str], earlier: list[str]) -> dict[str, Any]:
    agent: dict[str, Any] = ({"type": "string", "enum": list(roster)} if roster
                             else {"type": "string"})
    depends: dict[str, Any] = {"type": "array", "items": {"type": "string"}, "maxItems": 0}
    if earlier:
        depends = {"type": "array", "items": {"type": "string", "enum": earlier},
                   "maxItems": min(len(earlier), 50)}
    return closed_object({
        "title": text_field(shape.title_chars, min_chars=1),
        "agent": agent,
        "instructions": text_field(shape.instructions_chars),
        "depends_on": depends,
        "estimated_credits": {"type": "integer", "minimum": 1, "maximum": MAX_ESTIMATE},
        "requires_approval": {"type": "boolean"},
    })

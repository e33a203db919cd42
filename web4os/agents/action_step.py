"""The structured action step: how a model without function calling asks for a tool.

Before a specialist does its card, it is shown the tools it may use and what earlier
calls returned, and answers with one JSON object naming a tool and its arguments, or
``"none"`` when it has what it needs. Pure functions over plain data: the goal's
execution decides what is offered, runs the call under the operator's policy, and asks
again with the result, a bounded number of times.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from web4os.agents.budget import closed_object, text_field
from web4os.agents.prompts import AgentBrief, TaskContext, conversation
from web4os.agents.providers.base import ModelProvider
from web4os.agents.structured import CallRecord, Fit, ask_structured

NO_TOOL = "none"
RESULT_CHARS = 2000  # of one earlier result, in the prompt
SCHEMA_CHARS = 1500  # of one tool's argument schema, in the prompt
ACTION_TOKENS = 600


@dataclass(frozen=True)
class ToolOffer:
    """A tool the agent may call now: ``server.tool``, what it does, its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]
    asks_first: bool = False


@dataclass(frozen=True)
class ToolResultLine:
    """An earlier call of this card and what it returned."""

    name: str
    arguments: dict[str, Any]
    result: str


class ToolAction(BaseModel):
    """The model's choice: a tool and its arguments, or ``none``."""

    tool: str = Field(max_length=200)
    arguments: dict[str, Any] = Field(default_factory=dict)
    reason: str = Field(default="", max_length=500)


def action_schema(offers: list[ToolOffer]) -> dict[str, Any]:
    """Built from the tools enabled for this agent now: the tool is one of their names."""
    return closed_object({
        "tool": {"type": "string", "enum": [o.name for o in offers] + [NO_TOOL]},
        "arguments": {"type": "object"},
        "reason": text_field(300, about="Why this call, in one sentence."),
    })


def action_messages(agent: AgentBrief, ctx: TaskContext, offers: list[ToolOffer],
                    done: list[ToolResultLine]) -> list[dict[str, str]]:
    tools = "\n".join(
        f"- {o.name}: {' '.join(o.description.split())[:300]}"
        + (" (the operator approves each call first)" if o.asks_first else "")
        + f"\n  ARGS {o.name}: {json.dumps(o.parameters, ensure_ascii=False)[:SCHEMA_CHARS]}"
        for o in offers)
    parts = [f"GOAL: {ctx.goal_title}", f"TASK: {ctx.task_title}",
             f"INSTRUCTIONS: {ctx.instructions or '(none)'}", f"TOOLS:\n{tools}"]
    if ctx.files:  # by name, for a tool that reads a file in full
        parts.append("FILES:\n" + "\n".join(f"- {f.name} ({f.source})" for f in ctx.files))
    if done:
        parts.append("RESULTS:\n" + "\n".join(
            f"- CALLED {d.name} {json.dumps(d.arguments, ensure_ascii=False)}: "
            f"{d.result[:RESULT_CHARS]}" for d in done))
    parts.append(
        "ANSWER: Before you do the task you may call one tool. Answer with a JSON object: "
        f'{{"tool": one tool\'s name, or "{NO_TOOL}" when you have what you need, '
        '"arguments": the arguments its ARGS schema asks for, '
        '"reason": why, in one sentence}.')
    return conversation(agent, "\n\n".join(parts))


def choose_action(provider: ModelProvider, agent: AgentBrief, ctx: TaskContext,
                  offers: list[ToolOffer], done: list[ToolResultLine],
                  calls: list[CallRecord]) -> ToolAction:
    """One structured step: which tool the specialist calls next (``none``: no more)."""
    def check(action: ToolAction) -> None:
        if action.tool != NO_TOOL and action.tool not in {o.name for o in offers}:
            raise ValueError(f"“{action.tool}” is not one of the tools offered.")

    fit = Fit(action_messages(agent, ctx, offers, done), action_schema(offers), ACTION_TOKENS,
              strict=False)  # the arguments are an open object: each tool has its own
    return ask_structured(provider, lambda squeeze: fit, ToolAction, purpose="action",
                          agent_slug=agent.slug, calls=calls, check=check, model=agent.model)

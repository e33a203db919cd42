"""What a specialist is told and what it answers, and the CEO agent's review of it.

Pure functions over plain data (no database): the goal's execution loads the
context, calls these, and saves the results in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from web4os.agents.models import Agent
from web4os.agents.providers.base import ModelProvider, Purpose
from web4os.agents.structured import CallRecord, M, ToolBox, ask_structured

INPUT_LIMIT = 6000


@dataclass(frozen=True)
class AgentBrief:
    """The parts of an agent a prompt needs."""

    slug: str
    name: str
    role: str
    instructions: str
    model: str = ""


@dataclass(frozen=True)
class InputDoc:
    """The output of a task this one depends on."""

    title: str
    agent: str
    text: str


@dataclass
class TaskContext:
    """Everything a specialist is given to do a task."""

    goal_title: str
    goal_brief: str
    task_title: str
    instructions: str
    inputs: list[InputDoc] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    feedback: str = ""
    context: list[str] = field(default_factory=list)  # other results of the goal (a tool)


class Deliverable(BaseModel):
    """A specialist's answer."""

    deliverable: str = Field(min_length=1, max_length=60_000,
                             description="The work itself, in markdown.")
    note: str = Field(default="", max_length=500,
                      description="One or two sentences for the operator.")


class Review(BaseModel):
    """The CEO agent's verdict on a finished task."""

    verdict: Literal["accept", "revise"]
    feedback: str = Field(default="", max_length=2000)


def brief_of(agent: Agent) -> AgentBrief:
    """The parts of an agent row a prompt needs, copied out of the session."""
    return AgentBrief(slug=agent.slug, name=agent.name, role=agent.role,
                      instructions=agent.instructions, model=agent.model)


def system_message(agent: AgentBrief) -> dict[str, str]:
    text = f"You are {agent.name}: {agent.role}.\n{agent.instructions}".strip()
    return {"role": "system", "content": text}


def conversation(agent: AgentBrief, user: str) -> list[dict[str, str]]:
    """The agent's system message, then the one user message it answers."""
    return [system_message(agent), {"role": "user", "content": user}]


def doc_block(title: str, agent: str, text: str) -> str:
    """One document in a prompt; the offline model finds the documents by this header."""
    return f"--- DOC: {title} (by {agent}) ---\n{text}"


def ask_agent(provider: ModelProvider, agent: AgentBrief, user: str, schema: type[M], *,
              purpose: Purpose, calls: list[CallRecord], max_tokens: int = 2000,
              check: Callable[[M], None] | None = None) -> M:
    """One question to ``agent``, on its own model, answered in ``schema``."""
    return ask_structured(provider, conversation(agent, user), schema, purpose=purpose,
                          agent_slug=agent.slug, calls=calls, check=check,
                          max_tokens=max_tokens, model=agent.model)


def task_prompt(agent: AgentBrief, ctx: TaskContext) -> list[dict[str, str]]:
    """The messages a specialist gets for a task (tests assert on this)."""
    parts = [
        f"GOAL: {ctx.goal_title}",
        f"BRIEF: {ctx.goal_brief or '(none)'}",
        f"TASK: {ctx.task_title}",
        f"INSTRUCTIONS: {ctx.instructions or '(none)'}",
    ]
    if ctx.inputs:
        docs = "\n\n".join(doc_block(d.title, d.agent, d.text[:INPUT_LIMIT]) for d in ctx.inputs)
        parts.append(f"INPUTS:\n{docs}")
    if ctx.context:
        parts.append("CONTEXT: Other results already delivered for this goal:\n"
                     + "\n\n".join(ctx.context))
    if ctx.notes:
        parts.append("NOTES:\n" + "\n".join(f"- {n}" for n in ctx.notes))
    if ctx.feedback:
        parts.append(
            "FEEDBACK: A previous version was sent back with this feedback. Address it:\n"
            + ctx.feedback
        )
    parts.append(
        'Answer with a JSON object: {"deliverable": markdown text of the work itself, '
        '"note": one or two sentences for the operator}.'
    )
    return conversation(agent, "\n\n".join(parts))


def do_task(
    provider: ModelProvider, agent: AgentBrief, ctx: TaskContext, calls: list[CallRecord],
    tools: ToolBox | None = None,
) -> Deliverable:
    """A specialist does a task (calling its tools first if the endpoint offers functions)."""
    return ask_structured(provider, task_prompt(agent, ctx), Deliverable, purpose="task",
                          agent_slug=agent.slug, calls=calls, max_tokens=3000,
                          model=agent.model, tools=tools)


def review_task(
    provider: ModelProvider, ceo: AgentBrief, ctx: TaskContext, deliverable: str,
    calls: list[CallRecord],
) -> Review:
    """The CEO agent accepts a deliverable or sends it back with feedback."""
    user = (
        f"GOAL: {ctx.goal_title}\n\nTASK: {ctx.task_title}\n\n"
        f"INSTRUCTIONS: {ctx.instructions or '(none)'}\n\n"
        f"DELIVERABLE:\n{deliverable[:INPUT_LIMIT]}\n\n"
        'Does the deliverable do what the task asked? Answer with a JSON object: '
        '{"verdict": "accept" or "revise", "feedback": what to change if revise}.'
    )
    return ask_agent(provider, ceo, user, Review, purpose="review", calls=calls, max_tokens=500)

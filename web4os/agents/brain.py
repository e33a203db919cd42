"""What the CEO agent and the specialists say to the model, and what they expect back.

Pure functions over plain data (no database): the dispatch code loads the
context, calls these, and saves the results in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from web4os.agents.providers.base import ModelProvider
from web4os.agents.structured import CallRecord, ToolBox, ask_structured
from web4os.goals.plans import validate_plan
from web4os.goals.schemas import Plan

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


class Summary(BaseModel):
    """The CEO agent's closing summary of a goal."""

    summary: str = Field(min_length=1, max_length=20_000)


def _system(agent: AgentBrief) -> dict[str, str]:
    text = f"You are {agent.name}: {agent.role}.\n{agent.instructions}".strip()
    return {"role": "system", "content": text}


def plan_goal(
    provider: ModelProvider, ceo: AgentBrief, *, title: str, brief: str,
    roster: list[AgentBrief], max_tasks: int, calls: list[CallRecord],
) -> Plan:
    """Ask the CEO agent for a plan that passes every planning rule (one repair allowed)."""
    roster_lines = "\n".join(f"- {a.slug}: {a.name} — {a.role}" for a in roster)
    user = (
        f"GOAL: {title}\n"
        f"BRIEF: {brief or '(none)'}\n"
        f"ROSTER:\n{roster_lines}\n"
        + _plan_rules(max_tasks)
    )
    slugs = [a.slug for a in roster]
    return ask_structured(
        provider, [_system(ceo), {"role": "user", "content": user}], Plan,
        purpose="plan", agent_slug=ceo.slug, calls=calls, model=ceo.model,
        check=lambda plan: validate_plan(plan, slugs, max_tasks=max_tasks),
    )


@dataclass(frozen=True)
class PlannedWork:
    """A task of the current plan, as the CEO agent sees it when re-planning."""

    key: str
    agent: str
    title: str
    detail: str  # the output's first line (done), why it failed, or its instructions
    depends_on: tuple[str, ...] = ()


def _plan_rules(max_tasks: int) -> str:
    return (
        "RULES:\n"
        f"- Plan at most {max_tasks} tasks (3 to 8 is usual).\n"
        "- Each task has a short unique key (lower-case, e.g. 'research'), a title, clear "
        "instructions, the slug of one agent from the ROSTER, the keys it depends on, and "
        "an estimated credit cost (a whole number, usually 1-20).\n"
        "- Let independent work run in parallel; depend only on what a task really needs.\n"
        "- No cycles. Set requires_approval only where the operator must sign off.\n"
        "Answer with a JSON object: {\"rationale\": str, \"tasks\": [{\"key\", \"title\", "
        "\"agent\", \"instructions\", \"depends_on\", \"estimated_credits\", "
        "\"requires_approval\"}]}."
    )


def replan_prompt(ceo: AgentBrief, *, title: str, brief: str, roster: list[AgentBrief],
                  done: list[PlannedWork], failed: list[PlannedWork],
                  remaining: list[PlannedWork], taken: list[str],
                  max_tasks: int) -> list[dict[str, str]]:
    """The messages for a re-plan of the unfinished part of a goal (tests assert on this)."""
    def lines(items: list[PlannedWork]) -> str:
        return "\n".join(
            f"- {w.key} ({w.agent}): {w.title} — {' '.join(w.detail.split())[:300]}"
            + (f" | needs: {', '.join(w.depends_on)}" if w.depends_on else "")
            for w in items) or "(none)"

    roster_lines = "\n".join(f"- {a.slug}: {a.name} — {a.role}" for a in roster)
    user = (
        f"GOAL: {title}\n"
        f"BRIEF: {brief or '(none)'}\n"
        f"ROSTER:\n{roster_lines}\n"
        f"DONE:\n{lines(done)}\n"
        f"FAILED:\n{lines(failed)}\n"
        f"REMAINING:\n{lines(remaining)}\n"
        f"KEYS IN USE: {', '.join(taken)}\n"
        "Some work failed for good. Plan the unfinished work (FAILED and REMAINING) again, "
        "avoiding what made it fail: a different approach, agent or smaller steps. The DONE "
        "tasks stay; new tasks may depend on their keys and on each other. Every new task "
        "needs a key that is not in KEYS IN USE.\n"
        + _plan_rules(max_tasks)
    )
    return [_system(ceo), {"role": "user", "content": user}]


def replan_goal(
    provider: ModelProvider, ceo: AgentBrief, *, title: str, brief: str,
    roster: list[AgentBrief], done: list[PlannedWork], failed: list[PlannedWork],
    remaining: list[PlannedWork], taken: list[str], max_tasks: int, calls: list[CallRecord],
) -> Plan:
    """Ask the CEO agent for a new plan of the unfinished work, checked by the same rules."""
    slugs = [a.slug for a in roster]
    done_keys = [w.key for w in done]
    messages = replan_prompt(ceo, title=title, brief=brief, roster=roster, done=done,
                             failed=failed, remaining=remaining, taken=taken,
                             max_tasks=max_tasks)
    return ask_structured(
        provider, messages, Plan, purpose="replan", agent_slug=ceo.slug, calls=calls,
        model=ceo.model,
        check=lambda plan: validate_plan(plan, slugs, max_tasks=max_tasks, done=done_keys,
                                         taken=taken),
    )


def task_prompt(agent: AgentBrief, ctx: TaskContext) -> list[dict[str, str]]:
    """The messages a specialist gets for a task (tests assert on this)."""
    parts = [
        f"GOAL: {ctx.goal_title}",
        f"BRIEF: {ctx.goal_brief or '(none)'}",
        f"TASK: {ctx.task_title}",
        f"INSTRUCTIONS: {ctx.instructions or '(none)'}",
    ]
    if ctx.inputs:
        docs = "\n\n".join(
            f"--- DOC: {d.title} (by {d.agent}) ---\n{d.text[:INPUT_LIMIT]}" for d in ctx.inputs
        )
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
    return [_system(agent), {"role": "user", "content": "\n\n".join(parts)}]


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
    return ask_structured(provider, [_system(ceo), {"role": "user", "content": user}], Review,
                          purpose="review", agent_slug=ceo.slug, calls=calls, max_tokens=500,
                          model=ceo.model)


def summarize_goal(
    provider: ModelProvider, ceo: AgentBrief, *, title: str, results: list[InputDoc],
    calls: list[CallRecord],
) -> Summary:
    """The CEO agent's closing summary for the operator."""
    docs = "\n\n".join(f"--- DOC: {d.title} (by {d.agent}) ---\n{d.text[:1500]}"
                       for d in results)
    user = (
        f"GOAL: {title}\n\nRESULTS:\n{docs}\n\n"
        'Summarise for the business owner what was done and what they should do next. '
        'Answer with a JSON object: {"summary": markdown}.'
    )
    return ask_structured(provider, [_system(ceo), {"role": "user", "content": user}], Summary,
                          purpose="summary", agent_slug=ceo.slug, calls=calls, max_tokens=1200,
                          model=ceo.model)

"""What the CEO agent is asked when it plans, re-plans and sums up a goal, and the
shape of its answers (checked by the same rules as any saved plan)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from web4os.agents.prompts import AgentBrief, InputDoc, ask_agent, conversation, doc_block
from web4os.agents.providers.base import ModelProvider
from web4os.agents.structured import CallRecord, ask_structured
from web4os.goals.plans import validate_plan
from web4os.goals.schemas import Plan


class Summary(BaseModel):
    """The CEO agent's closing summary of a goal."""

    summary: str = Field(min_length=1, max_length=20_000)


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
    return ask_agent(provider, ceo, user, Plan, purpose="plan", calls=calls,
                     check=lambda plan: validate_plan(plan, slugs, max_tasks=max_tasks))


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
    return conversation(ceo, user)


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


def summarize_goal(
    provider: ModelProvider, ceo: AgentBrief, *, title: str, results: list[InputDoc],
    calls: list[CallRecord],
) -> Summary:
    """The CEO agent's closing summary for the operator."""
    docs = "\n\n".join(doc_block(d.title, d.agent, d.text[:1500]) for d in results)
    user = (
        f"GOAL: {title}\n\nRESULTS:\n{docs}\n\n"
        'Summarise for the business owner what was done and what they should do next. '
        'Answer with a JSON object: {"summary": markdown}.'
    )
    return ask_agent(provider, ceo, user, Summary, purpose="summary", calls=calls,
                     max_tokens=1200)

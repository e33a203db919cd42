"""What the CEO agent is asked when it plans, re-plans and sums up a goal, and the
shape of its answers (checked by the same rules as any saved plan)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from web4os.agents.budget import (
    Budget,
    Squeeze,
    chars_for,
    closed_object,
    context_window,
    fit_texts,
    text_field,
)
from web4os.agents.prompts import AgentBrief, InputDoc, conversation, doc_block
from web4os.agents.providers.base import ModelProvider
from web4os.agents.structured import CallRecord, Fit, ask_structured
from web4os.goals.plan_schema import PlanShape, answer_tokens, plan_schema, plan_shape, slot_keys
from web4os.goals.plans import map_agents, validate_plan
from web4os.goals.schemas import Plan

PLAN_LEAST = 600  # tokens: the least room a plan's answer gets (the brief is cut first)
SUMMARY_ANSWER, SUMMARY_LEAST = 1200, 300
SUMMARY_CHARS = 20_000
RESULT_LIMIT = 1500  # characters of one result in the summary's prompt


class Summary(BaseModel):
    """The CEO agent's closing summary of a goal."""

    summary: str = Field(min_length=1, max_length=SUMMARY_CHARS)


@dataclass(frozen=True)
class PlannedWork:
    """A task of the current plan, as the CEO agent sees it when re-planning."""

    key: str
    agent: str
    title: str
    detail: str  # the output's first line (done), why it failed, or its instructions
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanAsk:
    """What a plan or re-plan request is fitted from: the limit, the keys in use (a
    re-plan's) and the finished tasks new ones may depend on."""

    roster: list[AgentBrief]
    max_tasks: int
    taken: frozenset[str] = frozenset()
    done: tuple[str, ...] = ()

    def shape(self, budget: Budget, max_tokens: int) -> tuple[PlanShape, list[str]]:
        shape = plan_shape(int(max_tokens * budget.squeeze.answer), self.max_tasks)
        return shape, slot_keys(shape.tasks, self.taken)

    def fit(self, budget: Budget, render: Callable[[list[str], str, str], list[dict[str, str]]],
            texts: list[str]) -> Fit:
        """The request, its inputs trimmed to the budget and the schema sized to what is left.
        ``render(texts, trim_note, rules)`` makes the messages; the rules name the limits,
        which depend on the room the messages leave: so they are fitted twice."""
        def messages(shape: PlanShape, keys: list[str]) -> list[dict[str, str]]:
            rules = _plan_rules(shape, keys, replan=bool(self.done or self.taken))
            return fit_texts(budget, lambda kept, note: render(kept, note, rules), texts)

        shape, keys = self.shape(budget, budget.answer)
        shape, keys = self.shape(budget, budget.max_tokens(messages(shape, keys)))
        fitted = messages(shape, keys)
        schema = plan_schema(shape, [a.slug for a in self.roster], keys, self.done)
        return Fit(fitted, schema, budget.max_tokens(fitted))


def _plan_rules(shape: PlanShape, keys: list[str], *, replan: bool) -> str:
    first, names = keys[0], ", ".join(keys)
    slots = ", ".join(f'"{k}": {{…}}' for k in keys[:2])
    return (
        "RULES:\n"
        f"- Plan at most {shape.tasks} tasks"
        + (" (3 to 8 is usual)" if shape.tasks >= 8 else "") + ".\n"
        f"- Name the tasks in order: {names} (start at {first}, use only as many as needed). "
        "A task may depend only on tasks named before it"
        + (", or on DONE tasks" if replan else "") + ".\n"
        f"- Each task has a title (under {shape.title_chars} characters), the slug of one agent "
        f"from the ROSTER, clear instructions (under {shape.instructions_chars} characters), "
        "the keys it depends on, and an estimated credit cost (a whole number, usually 1-20).\n"
        "- Let independent work run in parallel; depend only on what a task really needs.\n"
        "- No cycles. Set requires_approval only where the operator must sign off.\n"
        f'Answer with a JSON object: {{"rationale": str, "tasks": {{{slots}}}}} where each task '
        'is {"title", "agent", "instructions", "depends_on", "estimated_credits", '
        '"requires_approval"}.'
    )


def _roster_lines(roster: list[AgentBrief]) -> str:
    return "\n".join(f"- {a.slug}: {a.name} — {a.role}" for a in roster)


def plan_goal(
    provider: ModelProvider, ceo: AgentBrief, *, title: str, brief: str,
    roster: list[AgentBrief], max_tasks: int, calls: list[CallRecord],
) -> Plan:
    """Ask the CEO agent for a plan that passes every planning rule (one repair allowed;
    a near-miss agent name is mapped to the roster)."""
    ask = PlanAsk(roster, max_tasks)

    def render(texts: list[str], note: str, rules: str) -> list[dict[str, str]]:
        user = (f"GOAL: {title}\nBRIEF: {texts[0] or '(none)'}\n"
                f"ROSTER:\n{_roster_lines(roster)}\n" + (f"{note}\n" if note else "") + rules)
        return conversation(ceo, user)

    def fit(squeeze: Squeeze) -> Fit:
        budget = Budget(context_window(provider), answer_tokens(max_tasks), PLAN_LEAST, squeeze)
        return ask.fit(budget, render, [brief])

    slugs = [a.slug for a in roster]
    return ask_structured(
        provider, fit, Plan, purpose="plan", agent_slug=ceo.slug, calls=calls, model=ceo.model,
        fix=lambda plan: map_agents(plan, {a.slug: a.name for a in roster}),
        check=lambda plan: validate_plan(plan, slugs, max_tasks=max_tasks),
    )


def _work_lines(items: list[PlannedWork], details: list[str]) -> str:
    return "\n".join(
        f"- {w.key} ({w.agent}): {w.title} — {detail}"
        + (f" | needs: {', '.join(w.depends_on)}" if w.depends_on else "")
        for w, detail in zip(items, details, strict=True)) or "(none)"


def replan_prompt(ceo: AgentBrief, *, title: str, brief: str, roster: list[AgentBrief],
                  done: list[PlannedWork], failed: list[PlannedWork],
                  remaining: list[PlannedWork], taken: list[str], max_tasks: int,
                  budget: Budget) -> Fit:
    """The re-plan request for the unfinished part of a goal, fitted to ``budget``."""
    ask = PlanAsk(roster, max_tasks, frozenset(taken), tuple(w.key for w in done))
    work = [*done, *failed, *remaining]

    def render(texts: list[str], note: str, rules: str) -> list[dict[str, str]]:
        details = texts[1:]
        d, f = len(done), len(done) + len(failed)
        user = (
            f"GOAL: {title}\n"
            f"BRIEF: {texts[0] or '(none)'}\n"
            f"ROSTER:\n{_roster_lines(roster)}\n"
            f"DONE:\n{_work_lines(done, details[:d])}\n"
            f"FAILED:\n{_work_lines(failed, details[d:f])}\n"
            f"REMAINING:\n{_work_lines(remaining, details[f:])}\n"
            f"KEYS IN USE: {', '.join(taken)}\n"
            "Some work failed for good. Plan the unfinished work (FAILED and REMAINING) again, "
            "avoiding what made it fail: a different approach, agent or smaller steps. The DONE "
            "tasks stay; new tasks may depend on their keys and on each other. Every new task "
            "needs a key that is not in KEYS IN USE.\n" + (f"{note}\n" if note else "") + rules
        )
        return conversation(ceo, user)

    texts = [brief, *(" ".join(w.detail.split())[:300] for w in work)]
    return ask.fit(budget, render, texts)


def replan_goal(
    provider: ModelProvider, ceo: AgentBrief, *, title: str, brief: str,
    roster: list[AgentBrief], done: list[PlannedWork], failed: list[PlannedWork],
    remaining: list[PlannedWork], taken: list[str], max_tasks: int, calls: list[CallRecord],
) -> Plan:
    """Ask the CEO agent for a new plan of the unfinished work, checked by the same rules."""
    slugs = [a.slug for a in roster]
    done_keys = [w.key for w in done]

    def fit(squeeze: Squeeze) -> Fit:
        budget = Budget(context_window(provider), answer_tokens(max_tasks), PLAN_LEAST, squeeze)
        return replan_prompt(ceo, title=title, brief=brief, roster=roster, done=done,
                             failed=failed, remaining=remaining, taken=taken,
                             max_tasks=max_tasks, budget=budget)

    return ask_structured(
        provider, fit, Plan, purpose="replan", agent_slug=ceo.slug, calls=calls,
        model=ceo.model, fix=lambda plan: map_agents(plan, {a.slug: a.name for a in roster}),
        check=lambda plan: validate_plan(plan, slugs, max_tasks=max_tasks, done=done_keys,
                                         taken=taken),
    )


def summary_schema(answer_tokens: int) -> dict[str, Any]:
    return closed_object({"summary": text_field(
        min(SUMMARY_CHARS, max(40, chars_for(answer_tokens - 20))), min_chars=1)})


def summarize_goal(
    provider: ModelProvider, ceo: AgentBrief, *, title: str, results: list[InputDoc],
    calls: list[CallRecord],
) -> Summary:
    """The CEO agent's closing summary for the operator."""
    def render(texts: list[str], note: str) -> list[dict[str, str]]:
        docs = "\n\n".join(doc_block(d.title, d.agent, text)
                           for d, text in zip(results, texts, strict=True))
        user = (
            f"GOAL: {title}\n\nRESULTS:\n{docs}\n\n" + "ANSWER: " + (f"{note} " if note else "")
            + 'Summarise for the business owner what was done and what they should do next. '
            'Answer with a JSON object: {"summary": markdown}.'
        )
        return conversation(ceo, user)

    def fit(squeeze: Squeeze) -> Fit:
        budget = Budget(context_window(provider), SUMMARY_ANSWER, SUMMARY_LEAST, squeeze)
        messages = fit_texts(budget, render, [d.text[:RESULT_LIMIT] for d in results])
        max_tokens = budget.max_tokens(messages)
        return Fit(messages, summary_schema(int(max_tokens * squeeze.answer)), max_tokens)

    return ask_structured(provider, fit, Summary, purpose="summary", agent_slug=ceo.slug,
                          calls=calls, model=ceo.model)

"""The CEO agent's plan and summary of a goal: reserve, call the model outside any
transaction, then save the result, the charge and the next state together."""

from __future__ import annotations

import logging
from typing import Any

from web4os.accounts.service import account_is_active
from web4os.agents import service as agents
from web4os.agents.prompts import InputDoc, brief_of
from web4os.agents.providers import ModelError, provider_for
from web4os.agents.structured import CallRecord, StructuredOutputError
from web4os.config import get_settings
from web4os.credits import service as credits
from web4os.credits.service import Refs
from web4os.errors import InvalidPlan
from web4os.goals import prompts
from web4os.goals import service as goals
from web4os.goals.history import record_calls
from web4os.goals.models import Goal, GoalStatus
from web4os.goals.reasons import failure_data, plain_reason, technical
from web4os.goals.scheduling import OUT_OF_CREDITS, backoff, queue_ready
from web4os.goals.statemachine import (
    transition_goal,
)
from web4os.queue import enqueue
from web4os.tenancy import AccountId, tenant_session

log = logging.getLogger("web4os.jobs")


PLAN_CREDITS = 3
SUMMARY_CREDITS = 2
WAITING = "Waiting for you:"


def settle_ceo_calls(s: Any, goal: Goal, key: str, refs: Refs, calls: list[CallRecord],
                     reason: str) -> int:
    """Charge the CEO agent's calls against their hold, add them to the goal's spend and
    record each call on the goal, in the caller's transaction; the credits charged."""
    aid = AccountId(goal.account_id)
    charged = credits.settle(s, aid, key, sum(c.credits for c in calls), refs=refs,
                             reason=reason)
    goals.add_goal_spend(s, aid, goal.id, charged)
    record_calls(s, account_id=goal.account_id, goal_id=goal.id, task_id=None, calls=calls)
    return charged


def plan_goal(goal_id: int, *, account_id: int) -> None:
    """The CEO agent turns a goal into a saved plan (or a clear failure)."""
    settings = get_settings()
    with tenant_session(account_id) as s:
        goal = goals.get_goal(s, AccountId(account_id), goal_id)
        if goal.status != GoalStatus.PLANNING or not account_is_active(s, account_id):
            return
        ceo_agent = agents.ceo(s, AccountId(account_id))
        roster = [brief_of(a) for a in agents.specialists(s, AccountId(account_id))]
        goal.plan_attempts += 1
        key = f"goal:{goal.id}:plan{goal.plan_attempts}"
        attempt = goal.plan_attempts - goal.plan_round_start  # this round's try
        refs = Refs(goal_id=goal.id, agent_id=ceo_agent.id)
        if not credits.reserve(s, AccountId(account_id), key, PLAN_CREDITS, refs=refs,
                               reason="Hold for the CEO agent's plan"):
            transition_goal(s, goal, GoalStatus.PAUSED, actor="ceo", reason=OUT_OF_CREDITS)
            return
        title, brief_text = goal.title, goal.brief
        ceo, provider = brief_of(ceo_agent), provider_for(ceo_agent)
    calls: list[CallRecord] = []
    plan = None
    error: Exception | None = None
    try:
        plan = prompts.plan_goal(provider, ceo, title=title, brief=brief_text, roster=roster,
                               max_tasks=settings.max_plan_tasks, calls=calls)
    except (StructuredOutputError, ModelError) as exc:
        error = exc
    with tenant_session(account_id) as s:
        aid = AccountId(account_id)
        goal = goals.get_goal(s, aid, goal_id)
        charged = settle_ceo_calls(s, goal, key, refs, calls, "CEO agent: plan")
        if goal.status != GoalStatus.PLANNING:
            return
        ids: list[int] = []
        if plan is not None:
            try:
                with s.begin_nested():
                    ids = goals.save_plan(s, goal, plan, agents.list_agents(s, aid),
                                          max_tasks=settings.max_plan_tasks,
                                          require_approval=goal.require_approval)
            except InvalidPlan as exc:
                error, plan = exc, None
        if plan is not None:
            transition_goal(s, goal, GoalStatus.RUNNING, actor="ceo",
                            reason=f"Planned {len(plan.tasks)} tasks.")
            # The cards that need no input start now, in this transaction: no
            # ``advance_goal`` job has to load the whole new plan to find them. Not for
            # an account suspended meanwhile (as ``advance_goal`` would not): once it is
            # active again, the sweeper's look at idle goals starts them.
            if account_is_active(s, account_id):
                queue_ready(s, goal, goals.tasks_by_ids(s, aid, [
                    task_id for spec, task_id in zip(plan.tasks, ids, strict=True)
                    if not spec.depends_on]), first=True)
        else:
            _planning_failed(s, goal, error, attempt, settings.max_task_attempts, charged)


def _planning_failed(s: Any, goal: Goal, error: Exception | None, attempt: int,
                     max_attempts: int, charged: int) -> None:
    """Try again after a passing model error; else the goal waits for the operator, who
    gets the reason in plain words and the ways on (``goals.ways_on``)."""
    if isinstance(error, ModelError) and error.retryable and attempt < max_attempts:
        wait = backoff(attempt)
        goals.log_goal_event(s, goal, kind="retry", actor="ceo",
                             message=f"{error} Trying again in {wait:.0f} s.",
                             data={"credits": charged})
        enqueue(s, "plan_goal", countdown=wait, goal_id=goal.id, account_id=goal.account_id)
        return
    goals.log_goal_event(s, goal, kind="plan_failed", actor="ceo", message=technical(error),
                         data=failure_data(error, charged))
    transition_goal(s, goal, GoalStatus.FAILED, actor="ceo",
                    reason=f"{WAITING} the CEO agent could not make a plan. "
                           f"{plain_reason(error, 'The CEO agent')}")


def finish_goal(goal_id: int, *, account_id: int) -> None:
    """The CEO agent writes the goal's summary and closes it."""
    aid = AccountId(account_id)
    key = f"goal:{goal_id}:summary"
    with tenant_session(account_id) as s:
        goal = goals.get_goal(s, aid, goal_id)
        if goal.status != GoalStatus.COMPLETING:
            return
        ceo_agent = agents.ceo(s, aid)
        refs = Refs(goal_id=goal.id, agent_id=ceo_agent.id)
        results = [InputDoc(r.title, r.agent_name, r.output)
                   for r in goals.done_results(s, aid, goal_id)]
        can_pay = credits.reserve(s, aid, key, SUMMARY_CREDITS, refs=refs,
                                  reason="Hold for the CEO agent's summary")
        title, ceo, provider = goal.title, brief_of(ceo_agent), provider_for(ceo_agent)
    calls: list[CallRecord] = []
    summary = ""
    if can_pay:
        try:
            summary = prompts.summarize_goal(provider, ceo, title=title, results=results,
                                           calls=calls).summary
        except (StructuredOutputError, ModelError) as exc:
            log.warning("summary failed for goal %s: %s", goal_id, exc)
    if not summary:
        summary = "\n".join([f"**{title}** is complete.", "", *[f"- {r.title}" for r in results]])
    with tenant_session(account_id) as s:
        goal = goals.get_goal(s, aid, goal_id)
        if can_pay:
            settle_ceo_calls(s, goal, key, refs, calls, "CEO agent: summary")
        else:
            record_calls(s, account_id=account_id, goal_id=goal.id, task_id=None, calls=calls)
        if goal.status == GoalStatus.COMPLETING:
            transition_goal(s, goal, GoalStatus.COMPLETED, actor="ceo", reason="Goal complete.",
                            values={"summary": summary})

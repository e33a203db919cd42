"""The CEO agent's one re-plan per goal, when work fails for good.

A goal is *stuck* when a card has failed for good (attempts used up, or a
non-retryable error) and nothing else can move: no card is queued, running,
waiting for review or blocked, and no planned card is ready. Then, once per goal
(``Goal.replans`` of ``Goal.replans_allowed``), the CEO agent plans the unfinished
part again: the failed and not-yet-run cards are cancelled with a reason, and the new
cards, checked by the same planning rules, are wired after the done ones. If the
re-plan fails too, or the new cards fail again, the goal waits for the operator
(status FAILED, listed in *Needs you* with the reason and the ways on: retrying,
editing or cancelling a card resumes it; *plan again* grants one more re-plan; see
``goals.ways_on``).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update

from web4os.accounts.service import account_is_active
from web4os.agents import service as agents
from web4os.agents.prompts import brief_of
from web4os.agents.providers import ModelError, provider_for
from web4os.agents.structured import CallRecord, StructuredOutputError
from web4os.config import get_settings
from web4os.credits import service as credits
from web4os.credits.service import Refs
from web4os.errors import InvalidPlan
from web4os.goals import prompts
from web4os.goals import service as goals
from web4os.goals.models import Goal, GoalStatus, Task, TaskEvent, TaskStatus
from web4os.goals.planning import PLAN_CREDITS, WAITING, settle_ceo_calls
from web4os.goals.prompts import PlannedWork
from web4os.goals.reasons import failure_data, plain_reason, technical
from web4os.goals.scheduling import (
    OUT_OF_CREDITS,
    REPLAN_EVENTS,
    backoff,
    failed_titles,
    last_replan_event,
    stuck,
)
from web4os.goals.statemachine import (
    transition_goal,
)
from web4os.queue import enqueue
from web4os.tenancy import AccountId, of_account, tenant_session


def _work(t: Task, detail: str, deps: dict[int, list[int]], keys: dict[int, str]) -> PlannedWork:
    return PlannedWork(key=t.key, agent=t.agent.slug, title=t.title, detail=detail,
                       depends_on=tuple(keys[d] for d in deps.get(t.id, []) if d in keys))


def _take_replan(s: Any, goal: Goal) -> bool:
    """Take one of the goal's re-plans (guarded, so two workers cannot both take it)."""
    if goal.replans >= goal.replans_allowed:  # none left, unless resuming an interrupted one
        return last_replan_event(s, AccountId(goal.account_id), goal.id) == "replan_started"
    result = s.execute(update(Goal).where(Goal.id == goal.id,
                                          Goal.replans < Goal.replans_allowed)
                       .values(replans=Goal.replans + 1)
                       .execution_options(synchronize_session=False))
    return bool(result.rowcount == 1)


def replan_goal(goal_id: int, *, account_id: int) -> None:
    """The CEO agent re-plans the unfinished work of a stuck goal (once per goal, and
    once more each time the operator asks to plan it again)."""
    settings = get_settings()
    aid = AccountId(account_id)
    with tenant_session(account_id) as s:
        credits.lock_account(s, aid)  # account, then goal (claimed below): the workers' order
        goal = goals.get_goal(s, aid, goal_id)
        if goal.status != GoalStatus.RUNNING or not account_is_active(s, account_id):
            return
        tasks = goals.goal_tasks(s, aid, goal_id)
        deps = goals.dependency_map(s, aid, goal_id)
        if not stuck(tasks, deps) or not _take_replan(s, goal):
            return
        ceo_agent = agents.ceo(s, aid)
        key = f"goal:{goal.id}:replan:{uuid.uuid4().hex[:12]}"
        refs = Refs(goal_id=goal.id, agent_id=ceo_agent.id)
        if not credits.reserve(s, aid, key, PLAN_CREDITS, refs=refs,
                               reason="Hold for the CEO agent's re-plan"):
            s.rollback()  # give the re-plan back; it runs once credits arrive
            goal = goals.get_goal(s, aid, goal_id)
            transition_goal(s, goal, GoalStatus.PAUSED, actor="ceo", reason=OUT_OF_CREDITS)
            return
        goals.log_goal_event(s, goal, kind="replan_started", actor="ceo",
                             message="Work failed for good; the CEO agent is re-planning "
                                     "what is left.")
        attempt = _replan_attempts(s, aid, goal.id)
        keys = {t.id: t.key for t in tasks}
        done = [t for t in tasks if t.status == TaskStatus.DONE]
        replaced = [t for t in tasks if t.status in (TaskStatus.FAILED, TaskStatus.PLANNED)]
        done_work = [_work(t, (t.note or t.output)[:300], deps, keys) for t in done]
        failed_work = [_work(t, f"{t.instructions} (failed: {t.status_reason})", deps, keys)
                       for t in replaced if t.status == TaskStatus.FAILED]
        remaining_work = [_work(t, t.instructions, deps, keys)
                          for t in replaced if t.status == TaskStatus.PLANNED]
        taken = [t.key for t in tasks]
        replaced_ids = {t.id for t in replaced}
        roster = [brief_of(a) for a in agents.specialists(s, aid)]
        title, brief, ceo, provider = goal.title, goal.brief, brief_of(ceo_agent), \
            provider_for(ceo_agent)
    calls: list[CallRecord] = []
    plan = None
    error: Exception | None = None
    try:
        plan = prompts.replan_goal(provider, ceo, title=title, brief=brief, roster=roster,
                                 done=done_work, failed=failed_work, remaining=remaining_work,
                                 taken=taken, max_tasks=settings.max_plan_tasks, calls=calls)
    except (StructuredOutputError, ModelError) as exc:
        error = exc
    with tenant_session(account_id) as s:
        goal = goals.get_goal(s, aid, goal_id)
        charged = settle_ceo_calls(s, goal, key, refs, calls, "CEO agent: re-plan")
        tasks = goals.goal_tasks(s, aid, goal_id)
        current = [t for t in tasks if t.id in replaced_ids
                   and t.status in (TaskStatus.FAILED, TaskStatus.PLANNED)]
        if (goal.status != GoalStatus.RUNNING or len(current) != len(replaced_ids)
                or not stuck(tasks, goals.dependency_map(s, aid, goal_id))):
            goals.log_goal_event(s, goal, kind="replan_failed", actor="system",
                                 message="The re-plan was discarded: the goal changed meanwhile.",
                                 data={"credits": charged})
            return
        done = [t for t in tasks if t.status == TaskStatus.DONE]
        _save_replan(s, goal, plan, error, current, done, attempt, charged)


def _replan_attempts(s: Any, aid: AccountId, goal_id: int) -> int:
    """How many times the current re-plan was started (a retry starts it again); one
    that ended (replanned, or failed) does not use up the budget of the next."""
    ended = (select(func.coalesce(func.max(TaskEvent.id), 0)).where(
        of_account(TaskEvent, aid), TaskEvent.goal_id == goal_id,
        TaskEvent.kind.in_(("replanned", "replan_failed"))).scalar_subquery())
    return int(s.scalar(select(func.count()).select_from(TaskEvent).where(
        of_account(TaskEvent, aid), TaskEvent.goal_id == goal_id,
        TaskEvent.kind == "replan_started", TaskEvent.id > ended)) or 0)


def _save_replan(s: Any, goal: Goal, plan: Any, error: Exception | None, replaced: list[Task],
                 done: list[Task], attempt: int, charged: int) -> None:
    """Save the re-plan, try it again after a passing model error, or hand the goal to the
    operator with the reason and raw answer."""
    aid = AccountId(goal.account_id)
    titles = failed_titles(replaced)
    if (isinstance(error, ModelError) and error.retryable
            and attempt < get_settings().max_task_attempts):
        # A busy or unreachable endpoint is not a failed re-plan: the goal keeps its one
        # re-plan (the last re-plan event stays "started", so the next run resumes it).
        wait = max(backoff(attempt), error.retry_after or 0.0)
        goals.log_goal_event(s, goal, kind="retry", actor="ceo",
                             message=f"{error} The CEO agent tries the re-plan again in "
                                     f"{wait:.0f} s.", data={"credits": charged})
        enqueue(s, "replan_goal", countdown=wait, goal_id=goal.id, account_id=goal.account_id)
        return
    if plan is not None:
        try:
            with s.begin_nested():
                new = goals.save_replan(
                    s, goal, plan, agents.list_agents(s, aid),
                    max_tasks=get_settings().max_plan_tasks, replaced=replaced, done=done,
                    reason="Replaced by the CEO agent's re-plan after work failed for good.",
                    require_approval=goal.require_approval)
        except InvalidPlan as exc:
            error, plan = exc, None
    if plan is not None:
        goals.log_goal_event(
            s, goal, kind="replanned", actor="ceo",
            message=(f"Re-planned the unfinished work: {len(new)} new card(s) replace "
                     f"{len(replaced)}. {plan.rationale}").strip(),
            data={"cancelled": [t.id for t in replaced], "added": new})
        enqueue(s, "advance_goal", goal_id=goal.id, account_id=goal.account_id)
        return
    goals.log_goal_event(s, goal, kind="replan_failed", actor="ceo", message=technical(error),
                         data=failure_data(error, charged))
    # An endpoint that stayed busy through every try did not re-plan anything: the goal
    # keeps its re-plan for when its work fails for good again.
    unused = isinstance(error, ModelError) and error.retryable
    transition_goal(
        s, goal, GoalStatus.FAILED, actor="ceo",
        reason=(f"{WAITING} {titles} failed and the CEO agent could not re-plan. "
                f"{plain_reason(error, 'The CEO agent')} Retry, edit, reassign or cancel "
                "the failed card(s), or plan again."),
        values={"replans": max(0, goal.replans - 1)} if unused else None)


def replan_event_kinds(s: Any, aid: AccountId, goal_id: int) -> list[str]:
    """The goal's re-plan history, oldest first (for tests and the goal page)."""
    return list(s.scalars(select(TaskEvent.kind).where(
        of_account(TaskEvent, aid), TaskEvent.goal_id == goal_id,
        TaskEvent.kind.in_(REPLAN_EVENTS)).order_by(TaskEvent.id)))

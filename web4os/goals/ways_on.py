"""Ways on for a goal that waits for the operator: never a dead end.

A goal stops (status FAILED) when the CEO agent could not plan it, or could not
re-plan work that failed for good. Like a failed card, such a goal is never over: it
waits in *Needs you* with the reason in plain words, what its failed attempts cost,
and four ways on: plan again (with a fresh budget of tries), edit the goal and plan
again, switch the CEO agent's model (on /agents), or start from a simple built-in plan
(one card per specialist the operator ticks). Each is one guarded state change
recorded in the goal's history; a repeat, once the goal has moved on, changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from web4os.agents import service as agents
from web4os.agents.models import Agent
from web4os.config import get_settings
from web4os.errors import Conflict, InvalidInput
from web4os.goals import service as goals
from web4os.goals.actions import lock_for_action
from web4os.goals.models import Goal, GoalStatus, Task, TaskEvent, TaskStatus
from web4os.goals.planning import WAITING
from web4os.goals.scheduling import IN_FLIGHT
from web4os.goals.schemas import GoalCreate, Plan, PlannedTask
from web4os.goals.statemachine import transition_goal
from web4os.queue import enqueue
from web4os.tenancy import AccountId, TenantContext, of_account, scoped

WAYS_ON = ("plan_again", "edit_goal", "switch_ceo_model", "simple_plan")
FAILED_ATTEMPTS = ("plan_failed", "replan_failed", "retry")
"""The goal-level events of a plan or re-plan attempt that failed (each says its cost)."""
SIMPLE_CARD_CREDITS = 5
MAX_DEPENDS_ON = 50  # a planned card's limit (``PlannedTask.depends_on``)
ONWARD = frozenset({GoalStatus.RUNNING, GoalStatus.PAUSED, GoalStatus.COMPLETING,
                    GoalStatus.COMPLETED})
"""Where a goal goes once a way on is taken: a repeat of the action finds it there."""


@dataclass
class WaitingGoal:
    """A goal that waits for the operator, with what the ways on need to show."""

    goal: Goal
    failed_attempts: int = 0
    failed_credits: int = 0
    has_cards: bool = False
    detail: str = ""  # the last failure as the code saw it
    raw: str = ""  # and the model's raw answer, if there was one
    ceo_id: int | None = None
    specialists: list[Agent] = field(default_factory=list)

    @property
    def reason(self) -> str:
        """The goal's reason without the "Waiting for you:" that the page says already."""
        text = self.goal.status_reason.removeprefix(WAITING).strip()
        return text[:1].upper() + text[1:]


def waits(goal: Goal) -> bool:
    """Whether the goal waits for the operator (and so offers the ways on)."""
    return goal.status == GoalStatus.FAILED


def waiting_goals(session: Session, account_id: AccountId, *, limit: int = 100) -> list[WaitingGoal]:
    """The account's goals that wait for the operator, newest first (a fixed number of
    queries, whatever their number)."""
    found = list(session.scalars(
        scoped(Goal, account_id).where(Goal.status == GoalStatus.FAILED)
        .order_by(Goal.updated_at.desc(), Goal.id.desc()).limit(limit)))
    return _described(session, account_id, found, with_roster=False)


def waiting_goal(session: Session, account_id: AccountId, goal: Goal) -> WaitingGoal | None:
    """The goal page's view of its ways on; None unless the goal waits."""
    if not waits(goal):
        return None
    return _described(session, account_id, [goal], with_roster=True)[0]


def _described(session: Session, account_id: AccountId, found: list[Goal], *,
               with_roster: bool) -> list[WaitingGoal]:
    if not found:
        return []
    out = {g.id: WaitingGoal(g) for g in found}
    with_cards = set(session.scalars(
        select(Task.goal_id).where(of_account(Task, account_id), Task.goal_id.in_(out))
        .group_by(Task.goal_id)))
    events = session.execute(
        select(TaskEvent.goal_id, TaskEvent.kind, TaskEvent.message, TaskEvent.data)
        .where(of_account(TaskEvent, account_id), TaskEvent.goal_id.in_(out),
               TaskEvent.task_id.is_(None), TaskEvent.kind.in_(FAILED_ATTEMPTS))
        .order_by(TaskEvent.id))
    for goal_id, kind, message, data in events:
        w = out[goal_id]
        w.failed_attempts += 1
        w.failed_credits += int((data or {}).get("credits") or 0)
        if kind != "retry":
            w.detail, w.raw = message, str((data or {}).get("raw") or "")
    roster = agents.list_agents(session, account_id)
    ceo_id = next((a.id for a in roster if a.is_ceo), None)
    specialists = [a for a in roster if a.enabled and not a.is_ceo] if with_roster else []
    for w in out.values():
        w.has_cards, w.ceo_id, w.specialists = w.goal.id in with_cards, ceo_id, specialists
    return list(out.values())


# --- the actions --------------------------------------------------------------------


def _waiting(session: Session, ctx: TenantContext, goal_id: int, *,
             moved_on: Iterable[GoalStatus], verb: str) -> tuple[Goal, bool]:
    """The goal, after the action lock, and whether it waits for the operator. One that
    is already where the action leads (``moved_on``: a repeat, or another operator's
    click) is returned unchanged; any other state is a conflict, said plainly."""
    lock_for_action(session, ctx)
    goal = goals.get_goal(session, ctx.account_id, goal_id)
    if waits(goal):
        return goal, True
    if goal.status in moved_on:
        return goal, False
    hint = f" ({goal.status_reason})" if goal.status == GoalStatus.PAUSED and goal.status_reason \
        else ""
    raise Conflict(f"This goal is {goal.status.value}{hint}, not waiting for you, so you "
                   f"can't {verb} now.")


def _has_cards(session: Session, goal: Goal) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Task).where(
        of_account(Task, AccountId(goal.account_id)), Task.goal_id == goal.id)))


def _plan_again(session: Session, ctx: TenantContext, goal: Goal, reason: str) -> None:
    """Planning starts over with a fresh budget of tries: a goal without cards is planned
    anew; one with cards gets one more re-plan of its unfinished work."""
    if _has_cards(session, goal):
        transition_goal(session, goal, GoalStatus.RUNNING, actor=ctx.actor, reason=reason,
                        values={"replans_allowed": max(goal.replans_allowed, goal.replans + 1)})
        enqueue(session, "advance_goal", goal_id=goal.id, account_id=goal.account_id)
    else:
        transition_goal(session, goal, GoalStatus.PLANNING, actor=ctx.actor, reason=reason,
                        values={"plan_round_start": goal.plan_attempts})
        enqueue(session, "plan_goal", goal_id=goal.id, account_id=goal.account_id)


def plan_again(session: Session, ctx: TenantContext, goal_id: int) -> Goal:
    """The CEO agent plans the goal again (credits are held and settled per attempt by
    the planning job, as for any plan)."""
    goal, waiting = _waiting(session, ctx, goal_id, verb="plan it again",
                             moved_on=ONWARD | {GoalStatus.PLANNING})
    if waiting:
        _plan_again(session, ctx, goal, "Planning again, as the operator asked.")
    return goal


def edit_goal(session: Session, ctx: TenantContext, goal_id: int, *, title: str,
              brief: str) -> Goal:
    """Change the goal's title and brief, then plan it again."""
    try:
        data = GoalCreate(title=title, brief=brief)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidInput(err["msg"].removeprefix("Value error, "),
                           field=str(err["loc"][0]) if err["loc"] else None) from None
    goal, waiting = _waiting(session, ctx, goal_id, verb="edit it and plan again",
                             moved_on=ONWARD | {GoalStatus.PLANNING})
    if not waiting:
        if (goal.title, goal.brief) != (data.title, data.brief):
            raise Conflict(f"This goal is {goal.status.value}, not waiting for you; it can be "
                           "edited while it waits for you.")
        return goal
    if (goal.title, goal.brief) != (data.title, data.brief):
        goal.title, goal.brief = data.title, data.brief
        session.flush()
        goals.log_goal_event(session, goal, kind="action", actor=ctx.actor,
                             message="Goal edited: new title and brief.")
    _plan_again(session, ctx, goal, "Planning again with the edited goal, as the operator asked.")
    return goal


def parse_agent_ids(values: Iterable[object]) -> list[int]:
    """The ticked specialists' ids (form or JSON), or a message for the field."""
    ids: list[int] = []
    for value in values:
        text = str(value).strip()
        if not text.isdigit() or len(text) > 18:
            raise InvalidInput("Pick specialists from the list.", field="agent_ids")
        ids.append(int(text))
    return ids


def simple_plan(session: Session, ctx: TenantContext, goal_id: int,
                agent_ids: Sequence[int]) -> Goal:
    """Start from a built-in plan: one card per chosen specialist, the goal's brief as its
    instructions. It replaces the unfinished cards (failed or not yet run) and comes
    after the done ones, like a re-plan; the operator edits the cards as usual."""
    goal, waiting = _waiting(session, ctx, goal_id, verb="start it from a simple plan",
                             moved_on=ONWARD)
    if not waiting:
        return goal
    roster = agents.list_agents(session, ctx.account_id)
    wanted = set(agent_ids)
    chosen = [a for a in roster if a.id in wanted and a.enabled and not a.is_ceo]
    if not agent_ids:
        raise InvalidInput("Tick at least one specialist.", field="agent_ids")
    if len(chosen) != len(wanted):
        raise InvalidInput("Pick enabled specialists from the list.", field="agent_ids")
    limit = get_settings().max_plan_tasks
    if len(chosen) > limit:
        raise InvalidInput(f"A plan has at most {limit} cards; tick fewer specialists.",
                           field="agent_ids")
    tasks = goals.goal_tasks(session, ctx.account_id, goal.id)
    if any(t.status in IN_FLIGHT for t in tasks):
        raise Conflict("Some of this goal's cards are still at work or waiting for review; "
                       "deal with them first.")
    done = [t for t in tasks if t.status == TaskStatus.DONE]
    plan = _built_in_plan(goal, chosen, taken={t.key for t in tasks},
                          after=[t.key for t in done][-MAX_DEPENDS_ON:])
    with session.begin_nested():
        if tasks:
            goals.save_replan(session, goal, plan, roster, max_tasks=limit, done=done,
                              replaced=[t for t in tasks if t.status in (TaskStatus.FAILED,
                                                                         TaskStatus.PLANNED)],
                              reason="Replaced by the simple plan the operator chose.",
                              require_approval=goal.require_approval)
        else:
            goals.save_plan(session, goal, plan, roster, max_tasks=limit,
                            require_approval=goal.require_approval)
    names = ", ".join(a.name for a in chosen)
    transition_goal(session, goal, GoalStatus.RUNNING, actor=ctx.actor,
                    reason=f"Started from a simple plan the operator chose: one card each "
                           f"for {names}.")
    enqueue(session, "advance_goal", goal_id=goal.id, account_id=goal.account_id)
    return goal


def _built_in_plan(goal: Goal, chosen: list[Agent], *, taken: set[str],
                   after: list[str]) -> Plan:
    """One card per specialist, side by side; each starts from the done cards (its
    inputs) when the goal has some, keeping the last ``MAX_DEPENDS_ON`` of them."""
    instructions = (goal.brief or goal.title)[:4000]

    def key(slug: str) -> str:
        if slug not in taken:
            return slug
        n = 2
        while f"{slug[:30]}-s{n}" in taken:
            n += 1
        return f"{slug[:30]}-s{n}"

    return Plan(
        rationale=("A simple plan the operator chose: one card per specialist, each working "
                   "from the goal's brief."),
        tasks=[PlannedTask(key=key(a.slug), title=f"{a.name}: {goal.title}"[:200],
                           agent=a.slug, instructions=instructions, depends_on=after,
                           estimated_credits=SIMPLE_CARD_CREDITS) for a in chosen])

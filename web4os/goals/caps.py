"""Owner-set credit caps per goal and per agent: exceeding one pauses the goal.

A cap counts what was spent plus what is held for work in flight, read from the
ledger (reservations and settlements carry the goal and the agent). The check
runs right after the next attempt's reservation, while this transaction holds
the account row's lock (every movement of an account updates that row), so two
workers cannot both squeeze under the same cap. Caps are checked before work
starts; an attempt that costs more than its estimate can overshoot a little,
and the next attempt then pauses the goal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from web4os.accounts.models import Role
from web4os.agents.models import Agent
from web4os.credits import service as credits
from web4os.credits.caps import MAX_CAP
from web4os.credits.models import CreditLedgerEntry, EntryKind
from web4os.credits.service import Refs
from web4os.errors import Conflict, Forbidden, InvalidInput
from web4os.goals import budgets
from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus
from web4os.goals.service import log_goal_event
from web4os.tenancy import AccountId, TenantContext, account_id_of, get_owned, of_account, scoped

SPEND_KINDS = (EntryKind.RESERVATION, EntryKind.SETTLEMENT, EntryKind.REFUND)


class CreditCapReached(Conflict):
    """An operator asked to run a card that a credit cap still stops."""


@dataclass(frozen=True)
class CapBreach:
    """Which cap stops a card, and by how much."""

    scope: Literal["goal", "agent", "account_month", "agent_month"]
    name: str
    used: int
    needed: int
    cap: int
    task_title: str
    resets_on: str = ""

    @property
    def message(self) -> str:
        """The pause card's text: which cap, spent vs cap, what to do."""
        if self.scope in ("account_month", "agent_month"):
            whose = "the account's" if self.scope == "account_month" else f"{self.name}'s"
            return (f"Paused: {whose} monthly budget is reached. {self.used:,} of "
                    f"{self.cap:,} credits are used this month (spent plus held for work in "
                    f"progress) and “{self.task_title}” needs about {self.needed:,} more. "
                    f"Work resumes by itself on {self.resets_on}, when the new month starts, "
                    "or as soon as an owner raises the budget on the Usage page.")
        if self.scope == "goal":
            which = "this goal's credit cap"
            where = "on this goal's page"
        else:
            which = f"the credit cap of {self.name}"
            where = "on the Usage page (or the Agents page)"
        return (f"Paused: {which} is reached. {self.used:,} of {self.cap:,} credits are used "
                f"(spent plus held for work in progress) and “{self.task_title}” needs about "
                f"{self.needed:,} more. An owner can raise or remove the cap {where}; "
                "work then resumes by itself.")


def _used(session: Session, account_id: AccountId, *conditions: object) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(CreditLedgerEntry.amount), 0)).where(
            of_account(CreditLedgerEntry, account_id),
            CreditLedgerEntry.kind.in_(SPEND_KINDS), *conditions,  # type: ignore[arg-type]
        )
    )
    return -int(total or 0)


def goal_used(session: Session, account_id: AccountId, goal_id: int) -> int:
    """Credits a goal has spent plus what it holds for work in flight."""
    return _used(session, account_id, CreditLedgerEntry.goal_id == goal_id)


def agent_used(session: Session, account_id: AccountId, agent_id: int) -> int:
    """Credits an agent's work has spent (all goals) plus what it holds now."""
    return _used(session, account_id, CreditLedgerEntry.agent_id == agent_id)


def breach_for(session: Session, task: Task, *, pending: int) -> CapBreach | None:
    """The cap that ``task`` would cross, or None.

    ``pending`` is the part of the task's next hold not yet in the ledger
    (0 when its reservation was just written, its estimate when checking ahead).
    """
    aid = account_id_of(task)
    goal, agent = task.goal, task.agent
    if goal.credit_cap is not None:  # the ledger is read only for a cap that is set
        breach = _over(task, "goal", goal.title, goal.credit_cap,
                       goal_used(session, aid, goal.id) + pending)
        if breach is not None:
            return breach
    if agent.credit_cap is not None:
        breach = _over(task, "agent", agent.name, agent.credit_cap,
                       agent_used(session, aid, agent.id) + pending)
        if breach is not None:
            return breach
    over = budgets.over_budget(session, task, pending=pending)
    if over is None:
        return None
    return CapBreach("account_month" if over.scope == "account" else "agent_month", over.name,
                     over.used - task.estimated_credits, task.estimated_credits, over.budget,
                     task.title, over.resets_on)


def _over(task: Task, scope: Literal["goal", "agent"], name: str, cap: int,
          used: int) -> CapBreach | None:
    """The breach if ``used`` (the task's next hold included) is over ``cap``."""
    if used <= cap:
        return None
    return CapBreach(scope, name, used - task.estimated_credits, task.estimated_credits, cap,
                     task.title)


class _OverCap(Exception):
    def __init__(self, breach: CapBreach) -> None:
        self.breach = breach


def reserve_within_caps(
    session: Session, task: Task, key: str, *, reason: str
) -> tuple[bool, CapBreach | None]:
    """Hold the next attempt's estimate unless the account or a cap says no.

    Returns ``(reserved, breach)``; on a breach nothing is held. The hold names
    the task's goal and agent, which is what the caps count.
    """
    refs = Refs(goal_id=task.goal_id, task_id=task.id, agent_id=task.agent_id)
    budgeted = budgets.has_budget(session, task)
    if task.goal.credit_cap is None and task.agent.credit_cap is None and not budgeted:
        return credits.reserve(session, account_id_of(task), key, task.estimated_credits,
                               refs=refs, reason=reason), None
    try:
        with session.begin_nested():
            reserved = credits.reserve(session, account_id_of(task), key, task.estimated_credits,
                                       refs=refs, reason=reason)
            if not reserved:
                return False, None
            breach = breach_for(session, task, pending=0)
            if breach is not None:
                raise _OverCap(breach)  # roll back the hold with the savepoint
    except _OverCap as over:
        return False, over.breach
    if budgeted:
        budgets.warn_after_hold(session, task)
    return True, None


def still_capped(session: Session, goal: Goal) -> CapBreach | None:
    """For a paused goal: the cap that still stops one of its blocked cards, if any."""
    blocked = session.scalars(
        scoped(Task, AccountId(goal.account_id)).where(
            Task.goal_id == goal.id, Task.status == TaskStatus.BLOCKED)
    ).unique()
    for task in blocked:
        breach = breach_for(session, task, pending=task.estimated_credits)
        if breach is not None:
            return breach
    return None


# --- owner settings -----------------------------------------------------------

def _may_set(ctx: TenantContext, cap: int | None) -> None:
    if ctx.role != Role.OWNER.value:
        raise Forbidden("Only an account owner can change credit caps.")
    if cap is not None and not 1 <= cap <= MAX_CAP:
        raise InvalidInput(f"A cap is 1 to {MAX_CAP:,} credits.", field="credit_cap")


def _describe(cap: int | None) -> str:
    return "removed" if cap is None else f"set to {cap:,} credits"


def set_goal_cap(session: Session, ctx: TenantContext, goal_id: int, cap: int | None) -> Goal:
    """Set, raise or remove a goal's cap; a goal it paused resumes by itself."""
    _may_set(ctx, cap)
    goal = get_owned(session, Goal, goal_id, ctx.account_id)
    goal.credit_cap = cap
    log_goal_event(session, goal, kind="action", actor=ctx.actor,
                   message=f"Credit cap {_describe(cap)}.")
    session.flush()
    if goal.status == GoalStatus.PAUSED:
        credits.schedule_resume(session, ctx.account_id)
    return goal


def set_agent_cap(session: Session, ctx: TenantContext, agent_id: int, cap: int | None) -> Agent:
    """Set, raise or remove an agent's cap (all-time spend); paused goals resume by themselves.

    The agents page (and the usage page) call this.
    """
    _may_set(ctx, cap)
    agent = get_owned(session, Agent, agent_id, ctx.account_id)
    agent.credit_cap = cap
    session.flush()
    credits.schedule_resume(session, ctx.account_id)
    return agent

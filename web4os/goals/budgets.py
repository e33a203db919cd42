"""Monthly budgets as the goal's work meets them: the account's and each agent's.

The credits domain knows months and the account's budget; this module adds the agents'
budgets (agents sit above credits in the import order) and the two moments budgets
matter to running work: a hold that would cross one pauses the goal (``over_budget``,
read by ``caps.breach_for``), and a hold that crosses the warning threshold reports it
once that month (``warn_after_hold``). When a new month starts, the sweep resumes what a
budget paused (``months_turned``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from web4os.accounts.models import Account, Role
from web4os.agents.models import Agent
from web4os.credits import budgets
from web4os.credits import service as credits
from web4os.credits.budgets import BudgetUse, Month
from web4os.credits.caps import MAX_CAP
from web4os.db import utcnow
from web4os.errors import Forbidden, InvalidInput
from web4os.goals.models import Task
from web4os.goals.service import log_goal_event
from web4os.notifications.events import Event
from web4os.notifications.service import notify
from web4os.tenancy import AccountId, TenantContext, account_id_of, get_owned, scoped


@dataclass(frozen=True)
class OverBudget:
    """A monthly budget a card's next hold would cross."""

    scope: str  # "account" or "agent"
    name: str
    used: int
    budget: int
    resets_on: str


def _account(session: Session, task: Task) -> Account:
    account = session.get(Account, account_id_of(task))
    assert account is not None
    return account


def has_budget(session: Session, task: Task) -> bool:
    """Whether any monthly budget applies to the card (the ledger is read only then)."""
    return task.agent.monthly_budget is not None or _account(session, task).monthly_budget \
        is not None


def over_budget(session: Session, task: Task, *, pending: int,
                now: datetime | None = None) -> OverBudget | None:
    """The monthly budget that ``task``'s hold (``pending`` not yet in the ledger) crosses."""
    account = _account(session, task)
    aid = AccountId(account.id)
    month = budgets.month_of(now or utcnow(), account.time_zone)
    if account.monthly_budget is not None:
        used = budgets.month_spend(session, aid, month) + pending
        if used > account.monthly_budget:
            return OverBudget("account", account.name, used, account.monthly_budget,
                              month.resets_on)
    agent = task.agent
    if agent.monthly_budget is not None:
        used = budgets.month_spend(session, aid, month, agent_id=agent.id) + pending
        if used > agent.monthly_budget:
            return OverBudget("agent", agent.name, used, agent.monthly_budget, month.resets_on)
    return None


def warn_after_hold(session: Session, task: Task, *,
                    now: datetime | None = None) -> list[BudgetUse]:
    """The budgets this card's hold took past their warning threshold, each reported
    once per month: in the goal's history and as a ``budget.warning`` notification."""
    account = _account(session, task)
    month = budgets.month_of(now or utcnow(), account.time_zone)
    crossed = []
    use = budgets.account_use(session, account, now or utcnow())
    if use is not None and use.warning and budgets.claim_account_warning(session, account,
                                                                           month):
        crossed.append(use)
    agent_use = _agent_use(session, task.agent, account, month)
    if agent_use is not None and agent_use.warning and _claim_agent_warning(session, task.agent,
                                                                            month):
        crossed.append(agent_use)
    for u in crossed:
        log_goal_event(session, task.goal, kind="budget", actor="system", task_id=task.id,
                       message=warning_text(u))
        notify(session, AccountId(account.id), Event.BUDGET_WARNING,
               title=f"{u.percent}% of {_whose(u)} monthly budget used", body=warning_text(u),
               link="/usage#budget", goal_id=task.goal_id, task_id=task.id,
               once_key=f"budget:{u.scope}:{u.agent_id or 0}:{u.month}")
    return crossed


def _whose(use: BudgetUse) -> str:
    return "the account's" if use.scope == "account" else f"{use.name}'s"


def warning_text(use: BudgetUse) -> str:
    """The warning in an owner's words: whose budget, how much is used, what happens next."""
    return (f"{use.percent}% of {_whose(use)} monthly budget is used: {use.used:,} of "
            f"{use.budget:,} credits this month. At the budget, work pauses until "
            f"{use.resets_on} or until an owner raises it.")


def _agent_use(session: Session, agent: Agent, account: Account, month: Month) -> BudgetUse | None:
    if agent.monthly_budget is None:
        return None
    used = budgets.month_spend(session, AccountId(account.id), month, agent_id=agent.id)
    return BudgetUse("agent", agent.name, agent.monthly_budget, used,
                     account.budget_warn_percent, month.label, month.resets_on, agent.id)


def _claim_agent_warning(session: Session, agent: Agent, month: Month) -> bool:
    done = session.execute(
        update(Agent).where(Agent.id == agent.id,
                            (Agent.budget_warned.is_(None)) | (Agent.budget_warned != month.label))
        .values(budget_warned=month.label).execution_options(synchronize_session=False))
    return bool(done.rowcount)  # type: ignore[attr-defined]


def agent_uses(session: Session, account_id: AccountId,
               now: datetime | None = None) -> list[BudgetUse]:
    """Every agent with a monthly budget, and its use this month."""
    account = session.get(Account, account_id)
    assert account is not None
    month = budgets.month_of(now or utcnow(), account.time_zone)
    agents = session.scalars(scoped(Agent, account_id).where(Agent.monthly_budget.is_not(None))
                             .order_by(Agent.name))
    return [u for a in agents if (u := _agent_use(session, a, account, month)) is not None]


def set_account_budget(session: Session, ctx: TenantContext, budget: int | None,
                       warn_percent: int) -> Account:
    """Set, raise or remove the account's monthly budget (owners); paused work may resume."""
    if ctx.role != Role.OWNER.value:
        raise Forbidden("Only an account owner can change budgets.")
    account = budgets.set_account_budget(session, ctx.account_id, budget, warn_percent)
    credits.schedule_resume(session, ctx.account_id)
    return account


def set_agent_budget(session: Session, ctx: TenantContext, agent_id: int,
                     budget: int | None) -> Agent:
    """Set or remove an agent's monthly budget (owners); what it paused may resume."""
    if ctx.role != Role.OWNER.value:
        raise Forbidden("Only an account owner can change budgets.")
    if budget is not None and not 1 <= budget <= MAX_CAP:
        raise InvalidInput(f"A budget is 1 to {MAX_CAP:,} credits.", field="monthly_budget")
    agent = get_owned(session, Agent, agent_id, ctx.account_id)
    agent.monthly_budget = budget
    session.flush()
    credits.schedule_resume(session, ctx.account_id)
    return agent


def months_turned(session: Session, now: datetime | None = None) -> list[int]:
    """Accounts with a budget whose month turned since the sweep last looked.

    Each is claimed by a guarded update of ``budget_month``, so of however many sweeps
    run, one resumes the account's paused work once per new month.
    """
    now = now or utcnow()
    with_agent_budget = select(Agent.account_id).where(Agent.monthly_budget.is_not(None))
    rows = session.execute(select(Account.id, Account.time_zone, Account.budget_month).where(
        Account.monthly_budget.is_not(None) | Account.id.in_(with_agent_budget))).all()
    turned = []
    for account_id, zone, seen in rows:
        label = budgets.month_of(now, zone).label
        if seen == label:
            continue
        claimed = session.execute(
            update(Account).where(Account.id == account_id,
                                  Account.budget_month.is_(None)
                                  | (Account.budget_month != label))
            .values(budget_month=label).execution_options(synchronize_session=False))
        if claimed.rowcount and seen is not None:  # type: ignore[attr-defined]
            turned.append(int(account_id))
    return turned

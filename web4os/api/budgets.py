"""JSON API for monthly budgets: everyone reads them, owners set them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from web4os.accounts.models import Account
from web4os.api.deps import ApiOwner, ApiReader
from web4os.api.openapi import api_router
from web4os.credits import budgets as account_budgets
from web4os.credits.budgets import BudgetUse
from web4os.credits.caps import parse_cap
from web4os.db import utcnow
from web4os.goals import budgets
from web4os.tenancy import AccountId
from web4os.web.deps import SessionDep

router = api_router("budgets")


class BudgetUseOut(BaseModel):
    scope: str
    name: str
    agent_id: int | None
    budget: int
    used: int
    percent: int
    warn_percent: int
    warning: bool
    reached: bool
    month: str
    resets_on: str

    @classmethod
    def of(cls, use: BudgetUse) -> BudgetUseOut:
        return cls(scope=use.scope, name=use.name, agent_id=use.agent_id, budget=use.budget,
                   used=use.used, percent=use.percent, warn_percent=use.warn_percent,
                   warning=use.warning, reached=use.reached, month=use.month,
                   resets_on=use.resets_on)


class BudgetsOut(BaseModel):
    monthly_budget: int | None
    warn_percent: int
    time_zone: str
    account: BudgetUseOut | None
    agents: list[BudgetUseOut]


class BudgetIn(BaseModel):
    """The account's monthly budget (``null`` removes it) and its warning threshold."""

    monthly_budget: int | None = None
    warn_percent: int = Field(default=account_budgets.DEFAULT_WARN_PERCENT)


class AgentBudgetIn(BaseModel):
    monthly_budget: int | None = None


def _budgets(session: SessionDep, account_id: AccountId) -> BudgetsOut:
    account = session.get(Account, account_id)
    assert account is not None
    now = utcnow()
    use = account_budgets.account_use(session, account, now)
    return BudgetsOut(monthly_budget=account.monthly_budget,
                      warn_percent=account.budget_warn_percent, time_zone=account.time_zone,
                      account=BudgetUseOut.of(use) if use else None,
                      agents=[BudgetUseOut.of(u)
                              for u in budgets.agent_uses(session, account_id, now)])


@router.get("/budgets")
def get_budgets(session: SessionDep, ctx: ApiReader) -> BudgetsOut:
    """This month's budgets and their use (the account's zone sets the month)."""
    return _budgets(session, ctx.account_id)


@router.put("/budgets")
def put_budget(body: BudgetIn, session: SessionDep, ctx: ApiOwner) -> BudgetsOut:
    budgets.set_account_budget(session, ctx,
                               parse_cap(body.monthly_budget, field="monthly_budget"),
                               account_budgets.parse_warn_percent(body.warn_percent))
    return _budgets(session, ctx.account_id)


@router.put("/agents/{agent_id}/monthly-budget")
def put_agent_budget(agent_id: int, body: AgentBudgetIn, session: SessionDep,
                     ctx: ApiOwner) -> AgentBudgetIn:
    agent = budgets.set_agent_budget(session, ctx, agent_id,
                                     parse_cap(body.monthly_budget, field="monthly_budget"))
    return AgentBudgetIn(monthly_budget=agent.monthly_budget)

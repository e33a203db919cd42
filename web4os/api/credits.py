"""JSON API for credits: the balance, the ledger, usage, caps, and an owner's request
for more. The same services and messages as the /usage pages."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from web4os.api.deps import ApiOwner, ApiReader
from web4os.api.openapi import api_router
from web4os.api.schemas import LedgerOut
from web4os.credits import service as credits
from web4os.credits import topups
from web4os.credits.caps import parse_cap
from web4os.credits.models import CreditLedgerEntry
from web4os.goals import caps
from web4os.tenancy import scoped
from web4os.text import Text
from web4os.usage import service as usage
from web4os.usage.schemas import CapIn
from web4os.web.deps import SessionDep

router = api_router("credits")


class BalanceOut(BaseModel):
    balance: int


class TopUpIn(BaseModel):
    note: Text = ""


class TopUpOut(BaseModel):
    """The account's open request (asking again keeps this one)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    note: str
    created_at: datetime


@router.get("/credits")
def balance(session: SessionDep, ctx: ApiReader) -> BalanceOut:
    return BalanceOut(balance=credits.balance(session, ctx.account_id))


@router.get("/credits/ledger")
def ledger(session: SessionDep, ctx: ApiReader, limit: int = 100) -> list[LedgerOut]:
    limit = max(1, min(limit, 1000))
    rows = session.scalars(scoped(CreditLedgerEntry, ctx.account_id)
                           .order_by(CreditLedgerEntry.id.desc()).limit(limit))
    return [LedgerOut.model_validate(r) for r in rows]


@router.get("/credits/usage")
def usage_summary(session: SessionDep, ctx: ApiReader) -> usage.UsageSummary:
    """Balance, held credits, spend per goal / agent / day (last 30 days)."""
    return usage.usage_summary(session, ctx.account_id)


@router.post("/credits/requests", status_code=201)
def request_credits(body: TopUpIn, session: SessionDep, ctx: ApiOwner) -> TopUpOut:
    """Ask the platform admin for credits; it stays open until credits are next added."""
    return TopUpOut.model_validate(topups.request_top_up(session, ctx, body.note))


@router.put("/goals/{goal_id}/credit-cap")
def put_goal_cap(goal_id: int, body: CapIn, session: SessionDep, ctx: ApiOwner) -> CapIn:
    goal = caps.set_goal_cap(session, ctx, goal_id, parse_cap(body.credit_cap))
    return CapIn(credit_cap=goal.credit_cap)


@router.put("/agents/{agent_id}/credit-cap")
def put_agent_cap(agent_id: int, body: CapIn, session: SessionDep, ctx: ApiOwner) -> CapIn:
    agent = caps.set_agent_cap(session, ctx, agent_id, parse_cap(body.credit_cap))
    return CapIn(credit_cap=agent.credit_cap)

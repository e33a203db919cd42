"""Read models for the usage page, the JSON API, the CSV export and the admin console.

Spend is read from the ledger with a handful of grouped queries (never one per
row). A charge is a settlement joined to its reservation (``…:settle`` ↔
``…:reserve``): charged = held - released. Reservations without a settlement
are "held": credits set aside for work in flight.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session, aliased, outerjoin

from web4os.accounts.models import Account
from web4os.agents.models import Agent
from web4os.credits.models import CreditLedgerEntry as Entry
from web4os.credits.models import EntryKind
from web4os.db import utc_day, utcnow
from web4os.goals.models import Goal
from web4os.tenancy import AccountId, of_account

PER_PAGE = 50
CHART_DAYS = 30


@dataclass(frozen=True)
class GoalSpend:
    goal_id: int
    title: str
    status: str
    spent: int
    held: int
    cap: int | None


@dataclass(frozen=True)
class AgentSpend:
    agent_id: int
    name: str
    slug: str
    spent: int
    held: int
    cap: int | None


@dataclass(frozen=True)
class DaySpend:
    day: date
    credits: int


@dataclass(frozen=True)
class Bar:
    """One bar of the server-rendered SVG chart (coordinates in the viewBox)."""

    x: float
    y: float
    width: float
    height: float
    day: date
    credits: int


@dataclass
class UsageSummary:
    """Everything the usage page, the admin console and the usage API show about one account."""

    account_id: int
    balance: int
    held: int
    spent_total: int
    spent_last_30_days: int
    added_total: int
    by_goal: list[GoalSpend]
    by_agent: list[AgentSpend]
    by_day: list[DaySpend]

    @property
    def busiest_day(self) -> int:
        return max((d.credits for d in self.by_day), default=0)


def _charges(account_id: AccountId) -> tuple[Any, ColumnElement[int]]:
    """``FROM settlement LEFT JOIN its reservation`` and the credits charged, for one account."""
    r = aliased(Entry)
    joined = outerjoin(Entry, r, and_(
        of_account(r, account_id),
        r.idempotency_key == func.replace(Entry.idempotency_key, ":settle", ":reserve")))
    charged = -(Entry.amount + func.coalesce(r.amount, 0))
    return joined, charged


def spend_by(session: Session, account_id: AccountId, column: Any, *,
             since: datetime | None = None) -> dict[Any, int]:
    """Credits charged, grouped by ``column`` (a goal or agent id), settled since ``since``."""
    joined, charged = _charges(account_id)
    stmt = (select(column, func.sum(charged)).select_from(joined)
            .where(of_account(Entry, account_id), Entry.kind == EntryKind.SETTLEMENT))
    if since is not None:
        stmt = stmt.where(Entry.created_at >= since)
    rows = session.execute(stmt.group_by(column))
    return {key: int(total or 0) for key, total in rows}


def _held_by(session: Session, account_id: AccountId, column: Any) -> dict[Any, int]:
    settled = aliased(Entry)
    rows = session.execute(
        select(column, -func.sum(Entry.amount)).where(
            of_account(Entry, account_id), Entry.kind == EntryKind.RESERVATION,
            ~exists().where(of_account(settled, account_id),
                            settled.idempotency_key
                            == func.replace(Entry.idempotency_key, ":reserve", ":settle")),
        ).group_by(column)
    )
    return {key: int(total or 0) for key, total in rows}


def spend_by_day(session: Session, account_id: AccountId, *, days: int = CHART_DAYS,
                 today: date | None = None) -> list[DaySpend]:
    """Credits charged per UTC day for the last ``days`` days, zero days included."""
    today = today or utcnow().date()
    first = today - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    joined, charged = _charges(account_id)
    day = utc_day(Entry.created_at)
    rows = session.execute(
        select(day, func.sum(charged)).select_from(joined)
        .where(of_account(Entry, account_id), Entry.kind == EntryKind.SETTLEMENT,
               Entry.created_at >= since).group_by(day)
    )
    totals = {str(d)[:10]: int(c or 0) for d, c in rows}
    return [DaySpend(first + timedelta(days=i),
                     totals.get((first + timedelta(days=i)).isoformat(), 0))
            for i in range(days)]


def chart_bars(by_day: list[DaySpend], *, width: float = 600, height: float = 120,
               gap: float = 2) -> list[Bar]:
    """Bar geometry for the SVG chart (a zero day still gets a 1-unit stub)."""
    if not by_day:
        return []
    top = max(d.credits for d in by_day) or 1
    slot = width / len(by_day)
    bars = []
    for i, d in enumerate(by_day):
        h = max(1.0, height * d.credits / top) if d.credits else 1.0
        bars.append(Bar(x=round(i * slot + gap / 2, 2), y=round(height - h, 2),
                        width=round(max(1.0, slot - gap), 2), height=round(h, 2),
                        day=d.day, credits=d.credits))
    return bars


def usage_summary(session: Session, account_id: AccountId) -> UsageSummary:
    """Balance, spend per goal / agent / day: the usage page and the admin console read this."""
    balance = int(session.scalar(select(Account.credit_balance)
                                 .where(Account.id == account_id)) or 0)
    added = int(session.scalar(
        select(func.coalesce(func.sum(Entry.amount), 0)).where(
            of_account(Entry, account_id), Entry.amount > 0,  # a debit is not "added"
            Entry.kind.in_([EntryKind.GRANT, EntryKind.TOPUP, EntryKind.ADJUSTMENT]))) or 0)
    spent_goal = spend_by(session, account_id, Entry.goal_id)
    held_goal = _held_by(session, account_id, Entry.goal_id)
    spent_agent = spend_by(session, account_id, Entry.agent_id)
    held_agent = _held_by(session, account_id, Entry.agent_id)
    by_day = spend_by_day(session, account_id)

    goal_ids = {k for k in (*spent_goal, *held_goal) if k is not None}
    goals = session.execute(
        select(Goal.id, Goal.title, Goal.status, Goal.credit_cap).where(
            of_account(Goal, account_id),
            (Goal.id.in_(goal_ids)) | Goal.credit_cap.is_not(None))
    ).all()
    by_goal = sorted(
        (GoalSpend(gid, title, status.value, spent_goal.get(gid, 0), held_goal.get(gid, 0), cap)
         for gid, title, status, cap in goals),
        key=lambda g: (-g.spent, -g.held, -g.goal_id),
    )
    agents = session.execute(
        select(Agent.id, Agent.name, Agent.slug, Agent.credit_cap)
        .where(of_account(Agent, account_id)).order_by(Agent.is_ceo.desc(), Agent.name)
    ).all()
    by_agent = sorted(
        (AgentSpend(aid, name, slug, spent_agent.get(aid, 0), held_agent.get(aid, 0), cap)
         for aid, name, slug, cap in agents),
        key=lambda a: -a.spent,
    )
    return UsageSummary(
        account_id=int(account_id), balance=balance, held=sum(held_goal.values()),
        spent_total=sum(spent_goal.values()), spent_last_30_days=sum(d.credits for d in by_day),
        added_total=added, by_goal=by_goal, by_agent=by_agent, by_day=by_day,
    )


# --- the ledger itself -------------------------------------------------------------

@dataclass(frozen=True)
class LedgerRow:
    id: int
    created_at: datetime
    kind: str
    amount: int
    balance_after: int
    goal_id: int | None
    goal_title: str
    task_id: int | None
    agent_name: str
    actor: str
    reason: str
    reference: str


@dataclass(frozen=True)
class LedgerPage:
    rows: list[LedgerRow]
    page: int
    pages: int
    total: int


def _ledger_select(account_id: AccountId) -> Any:
    return (
        select(Entry.id, Entry.created_at, Entry.kind, Entry.amount, Entry.balance_after,
               Entry.goal_id, Goal.title, Entry.task_id, Agent.name, Entry.actor, Entry.reason,
               Entry.idempotency_key)
        .outerjoin(Goal, and_(Goal.id == Entry.goal_id, of_account(Goal, account_id)))
        .outerjoin(Agent, and_(Agent.id == Entry.agent_id, of_account(Agent, account_id)))
        .where(of_account(Entry, account_id))
    )


def _row(r: Any) -> LedgerRow:
    return LedgerRow(id=r[0], created_at=r[1], kind=r[2].value, amount=r[3], balance_after=r[4],
                     goal_id=r[5], goal_title=r[6] or "", task_id=r[7], agent_name=r[8] or "",
                     actor=r[9], reason=r[10], reference=r[11] or "")


def ledger_page(session: Session, account_id: AccountId, page: int = 1,
                per_page: int = PER_PAGE) -> LedgerPage:
    """One page of the ledger, newest first, with goal titles and agent names joined in."""
    total = int(session.scalar(select(func.count()).select_from(Entry)
                               .where(of_account(Entry, account_id))) or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = session.execute(_ledger_select(account_id).order_by(Entry.id.desc())
                           .offset((page - 1) * per_page).limit(per_page))
    return LedgerPage([_row(r) for r in rows], page, pages, total)


CSV_HEADER = ("id", "created_at_utc", "kind", "amount", "balance_after", "goal_id", "goal",
              "task_id", "agent", "actor", "reason", "reference")


def _cell(value: object) -> str:
    """Text for a CSV cell; formulas are defused (=, +, -, @ start a formula in spreadsheets)."""
    if isinstance(value, int):
        return str(value)
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def ledger_csv(session: Session, account_id: AccountId, *, batch: int = 1000) -> Iterator[str]:
    """The whole ledger as CSV lines, oldest first, read in batches by id."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    last = 0
    while True:
        rows = session.execute(_ledger_select(account_id).where(Entry.id > last)
                               .order_by(Entry.id).limit(batch)).all()
        for r in rows:
            row = _row(r)
            writer.writerow([_cell(v) for v in (
                row.id, row.created_at.isoformat(), row.kind, row.amount, row.balance_after,
                row.goal_id if row.goal_id is not None else "", row.goal_title,
                row.task_id if row.task_id is not None else "", row.agent_name, row.actor,
                row.reason, row.reference)])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
        if len(rows) < batch:
            return
        last = rows[-1][0]

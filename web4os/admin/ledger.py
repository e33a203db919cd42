"""An account's ledger as the admin reads it: one line per card (its reservations and
settlements together, as what the card cost), and totals that keep what came in apart
from what went out.

The raw ledger stays append-only and entry by entry (the owner's CSV export has it);
this is a read model over it, grouped in SQL so a busy account costs one query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, case, cast, func, select, true
from sqlalchemy.orm import Session, aliased

from web4os.credits.models import CreditLedgerEntry as Entry
from web4os.credits.models import EntryKind
from web4os.goals.models import Goal, Task

CHARGE_KINDS = (EntryKind.RESERVATION, EntryKind.SETTLEMENT, EntryKind.REFUND)
INCOMING_KINDS = (EntryKind.GRANT, EntryKind.TOPUP, EntryKind.ADJUSTMENT)


@dataclass(frozen=True)
class LedgerLine:
    """A card's charges, a goal's planning charge, or one grant/top-up/adjustment."""

    when: datetime
    kind: str  # "card", "goal" (planning and summaries) or the entry kind
    task_id: int | None
    task_title: str
    goal_title: str
    amount: int  # the signed change to the balance, all entries of the line together
    held: int  # credits still set aside for work in flight (0 once settled)
    balance_after: int
    actor: str
    reason: str
    last_entry_id: int  # where the line sits in the ledger: the cursor of the next page

    @property
    def charged(self) -> int:
        """What the work cost so far: taken from the balance and not still just held."""
        return -self.amount - self.held


@dataclass(frozen=True)
class LedgerTotals:
    """Added counts only credits that came in; a negative adjustment is "removed"."""

    added: int
    removed: int
    charged: int
    held: int

    def balance(self) -> int:
        return self.added - self.removed - self.charged - self.held


def _settlement_joined(account_id: int) -> tuple[Any, Any]:
    """Entries joined to their settlement (if any yet), and the credits each entry still
    holds: a reservation without a settlement holds what it reserved."""
    settled = aliased(Entry)
    joined = select(Entry).outerjoin(settled, and_(
        settled.account_id == account_id,
        settled.idempotency_key == func.replace(Entry.idempotency_key, ":reserve", ":settle")))
    held = case((and_(Entry.kind == EntryKind.RESERVATION, settled.id.is_(None)), -Entry.amount),
                else_=0)
    return joined, held


def totals(session: Session, account_id: int) -> LedgerTotals:
    """Credits added, removed by an admin, charged for work, and held for work in flight."""
    incoming = Entry.kind.in_(INCOMING_KINDS)
    joined, held_expr = _settlement_joined(account_id)
    added, removed, spending, held = session.execute(
        joined.with_only_columns(
            func.coalesce(func.sum(case((incoming & (Entry.amount > 0), Entry.amount),
                                        else_=0)), 0),
            func.coalesce(func.sum(case((incoming & (Entry.amount < 0), -Entry.amount),
                                        else_=0)), 0),
            func.coalesce(func.sum(case((Entry.kind.in_(CHARGE_KINDS), -Entry.amount),
                                        else_=0)), 0),
            func.coalesce(func.sum(held_expr), 0), maintain_column_froms=True)
        .where(Entry.account_id == account_id)).one()
    return LedgerTotals(added=int(added), removed=int(removed),
                        charged=int(spending) - int(held), held=int(held))


def _line_group() -> Any:
    """Which line an entry belongs to: its card; else its charge (reservation and
    settlement share a key but for the suffix); else a line of its own."""
    base_key = func.replace(func.replace(Entry.idempotency_key, ":reserve", ""), ":settle", "")
    return case(
        (Entry.task_id.is_not(None), None),
        (and_(Entry.kind.in_(CHARGE_KINDS), Entry.idempotency_key.is_not(None)), base_key),
        else_=cast(Entry.id, String))


PAGE_LINES = 30


def ledger_lines(session: Session, account_id: int, *, limit: int = PAGE_LINES,
                 before: int | None = None) -> list[LedgerLine]:
    """The latest ``limit`` lines, newest first; with ``before`` (a line's
    ``last_entry_id``), the ones older than that line, so pages never overlap."""
    joined, held_expr = _settlement_joined(account_id)
    group = _line_group()
    rows = session.execute(
        joined.with_only_columns(
            func.max(Entry.id), func.max(Entry.created_at), Entry.task_id,
            func.min(Entry.goal_id), func.min(Entry.kind), func.sum(Entry.amount),
            func.sum(held_expr), func.min(Entry.actor), func.min(Entry.reason),
            maintain_column_froms=True)
        .where(Entry.account_id == account_id)
        .group_by(Entry.task_id, group)
        .having(func.max(Entry.id) < before if before is not None else true())
        .order_by(func.max(Entry.id).desc()).limit(limit)).all()
    last_ids = [r[0] for r in rows]
    balances = dict(session.execute(select(Entry.id, Entry.balance_after)
                                    .where(Entry.id.in_(last_ids))).all())
    tasks = dict(session.execute(select(Task.id, Task.title).where(
        Task.account_id == account_id, Task.id.in_({r[2] for r in rows if r[2]}))).all())
    goals = dict(session.execute(select(Goal.id, Goal.title).where(
        Goal.account_id == account_id, Goal.id.in_({r[3] for r in rows if r[3]}))).all())
    lines = []
    for last_id, when, task_id, goal_id, kind, amount, held, actor, reason in rows:
        charge = kind in CHARGE_KINDS
        lines.append(LedgerLine(
            when=when, kind="card" if task_id else ("goal" if charge else kind.value),
            task_id=task_id, task_title=tasks.get(task_id, ""),
            goal_title=goals.get(goal_id, "") if goal_id else "", amount=int(amount),
            held=int(held or 0), balance_after=int(balances.get(last_id, 0)),
            actor=actor, reason="" if task_id else reason, last_entry_id=int(last_id)))
    return lines

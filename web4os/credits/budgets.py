"""Monthly budgets: what an account (or one agent) may spend in a calendar month.

A month is the account's own: it starts at midnight on the 1st in the account's time
zone, so a budget resets when the owner's month does, not UTC's. Spend is read from the
ledger like the caps read it (spent plus held for work in flight), counted from the
month's first instant. A warning threshold (a percentage) is crossed at most once per
month and per budget: a guarded update of the ``*_warned`` period column claims it, so
however many workers cross it together, one of them reports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from web4os.accounts.models import Account
from web4os.accounts.zones import zone_of
from web4os.credits.caps import MAX_CAP
from web4os.credits.models import CreditLedgerEntry, EntryKind
from web4os.errors import InvalidInput
from web4os.tenancy import AccountId, of_account

SPEND_KINDS = (EntryKind.RESERVATION, EntryKind.SETTLEMENT, EntryKind.REFUND)
DEFAULT_WARN_PERCENT = 80


@dataclass(frozen=True)
class Month:
    """One budget period: its label ("2026-12") and its bounds as UTC instants."""

    label: str
    starts: datetime
    ends: datetime

    @property
    def resets_on(self) -> str:
        """The day the next period starts, as the account reads it (e.g. "1 January")."""
        return f"1 {self.ends_local:%B}"

    ends_local: datetime


def month_of(now: datetime, zone_name: str | None) -> Month:
    """The calendar month holding ``now`` in the zone, with its UTC bounds."""
    zone = zone_of(zone_name)
    local = now.astimezone(zone)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = (start + timedelta(days=32)).replace(day=1)
    # Midnight exists in every zone web4os knows except a few historic ones; fold=0
    # resolves an ambiguous one to its first instant.
    return Month(label=f"{start:%Y-%m}", starts=start.astimezone(UTC),
                 ends=nxt.astimezone(UTC), ends_local=nxt)


def month_spend(session: Session, account_id: AccountId, month: Month, *,
                agent_id: int | None = None) -> int:
    """Credits spent plus held since the month began (one agent's, if named)."""
    where = [of_account(CreditLedgerEntry, account_id),
             CreditLedgerEntry.kind.in_(SPEND_KINDS),
             CreditLedgerEntry.created_at >= month.starts]
    if agent_id is not None:
        where.append(CreditLedgerEntry.agent_id == agent_id)
    total = session.scalar(select(func.coalesce(func.sum(CreditLedgerEntry.amount), 0))
                           .where(*where))
    return -int(total or 0)


@dataclass(frozen=True)
class BudgetUse:
    """A budget as the usage page and the API show it."""

    scope: str  # "account" or "agent"
    name: str
    budget: int
    used: int
    warn_percent: int
    month: str
    resets_on: str
    agent_id: int | None = None

    @property
    def percent(self) -> int:
        return min(999, self.used * 100 // self.budget) if self.budget else 0

    @property
    def warning(self) -> bool:
        return self.percent >= self.warn_percent

    @property
    def reached(self) -> bool:
        return self.used >= self.budget


def account_use(session: Session, account: Account, now: datetime) -> BudgetUse | None:
    """The account's monthly budget and this month's use, or None without a budget."""
    if account.monthly_budget is None:
        return None
    month = month_of(now, account.time_zone)
    return BudgetUse("account", account.name, account.monthly_budget,
                     month_spend(session, AccountId(account.id), month),
                     account.budget_warn_percent, month.label, month.resets_on)


def parse_warn_percent(raw: str | int | None) -> int:
    """A warning threshold as typed: a whole percentage from 1 to 100 (empty: the default)."""
    text = "" if raw is None else str(raw).strip().rstrip("%").strip()
    if not text:
        return DEFAULT_WARN_PERCENT
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise InvalidInput("Enter a warning threshold from 1 to 100 (per cent).",
                           field="warn_percent")
    return int(text)


def set_account_budget(session: Session, account_id: AccountId, budget: int | None,
                       warn_percent: int) -> Account:
    """Set or remove the account's monthly budget; the caller checks the role."""
    if budget is not None and not 1 <= budget <= MAX_CAP:
        raise InvalidInput(f"A budget is 1 to {MAX_CAP:,} credits.", field="monthly_budget")
    if not 1 <= warn_percent <= 100:
        raise InvalidInput("Enter a warning threshold from 1 to 100 (per cent).",
                           field="warn_percent")
    account = session.get(Account, account_id)
    assert account is not None
    account.monthly_budget = budget
    account.budget_warn_percent = warn_percent
    session.flush()
    return account


def claim_account_warning(session: Session, account: Account, month: Month) -> bool:
    """True for the one caller that first reports this month's warning."""
    done = session.execute(
        update(Account).where(Account.id == account.id,
                              (Account.budget_warned.is_(None))
                              | (Account.budget_warned != month.label))
        .values(budget_warned=month.label).execution_options(synchronize_session=False))
    return bool(done.rowcount)  # type: ignore[attr-defined]

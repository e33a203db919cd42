"""Accounts near their limits, for the admin console: monthly budgets past their warning
threshold (or reached), so an admin can talk to a client before their work pauses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from web4os.accounts.models import Account
from web4os.credits import budgets
from web4os.credits.budgets import BudgetUse


@dataclass(frozen=True)
class NearLimit:
    """An account whose monthly budget is past its warning threshold."""

    account: Account
    use: BudgetUse


def near_limits(session: Session, now: datetime) -> list[NearLimit]:
    """Accounts with a budget at or past their warning threshold, fullest first."""
    found = []
    for account in session.scalars(select(Account).where(Account.monthly_budget.is_not(None))):
        use = budgets.account_use(session, account, now)
        if use is not None and use.warning:
            found.append(NearLimit(account, use))
    return sorted(found, key=lambda n: -n.use.percent)

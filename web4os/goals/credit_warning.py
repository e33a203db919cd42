"""Whether the signed-in account runs low on credits: the top bar's chip and the usage
page warn before work stops, not only once the balance is exactly zero."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus
from web4os.goals.scheduling import OUT_OF_CREDITS
from web4os.tenancy import AccountId, of_account


@dataclass(frozen=True)
class CreditWarning:
    balance: int
    waiting: int  # cards blocked, and goals paused, until credits arrive
    mark: int  # the account's low-credit threshold (0: never low by balance alone)

    @property
    def low(self) -> bool:
        return self.waiting > 0 or self.balance < self.mark


def credit_warning(session: Session, account_id: AccountId, balance: int,
                   mark: int) -> CreditWarning:
    """``balance`` against the account's threshold, and how much work waits for credits
    (one query). The same threshold notifies members and flags the account for admins."""
    cards = select(func.count()).select_from(Task).where(
        of_account(Task, account_id), Task.status == TaskStatus.BLOCKED,
        Task.status_reason == OUT_OF_CREDITS).scalar_subquery()
    goals = select(func.count()).select_from(Goal).where(
        of_account(Goal, account_id), Goal.status == GoalStatus.PAUSED,
        Goal.status_reason == OUT_OF_CREDITS).scalar_subquery()
    waiting = int(session.scalar(select(cards + goals)) or 0)
    return CreditWarning(balance, waiting, mark)


def credit_warning_on_page(request: Request) -> CreditWarning | None:
    """The top bar's credit warning for the signed-in viewer's account (``page_value``)."""
    viewer, session = getattr(request.state, "viewer", None), getattr(request.state, "session", None)
    if viewer is None or viewer.account is None or session is None:
        return None
    account = viewer.account
    return credit_warning(session, AccountId(account.id), account.credit_balance,
                          account.low_credit_threshold)

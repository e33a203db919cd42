"""The admin's list of accounts: search by name or owner email, filter, and what each
row needs to decide where to look (owners, balance, spend, last activity).

Cross-account reads, like the rest of ``web4os.admin``: they run in the admin's
``bind_system`` session. Per-account figures come from grouped queries over the
accounts on the page, never one query per row.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import Session

from web4os.accounts.models import Account, AccountStatus, Invite, Membership, Role, User, WebSession
from web4os.credits.models import CreditLedgerEntry, EntryKind
from web4os.goals.models import Goal

SPEND_KINDS = (EntryKind.RESERVATION, EntryKind.SETTLEMENT, EntryKind.REFUND)
MAX_ROWS = 200


class AccountFilter(enum.StrEnum):
    ALL = ""
    SUSPENDED = "suspended"
    LOW_CREDITS = "low"

    @classmethod
    def parse(cls, value: str) -> AccountFilter:
        """An unknown filter in the address shows every account rather than an error."""
        try:
            return cls(value)
        except ValueError:
            return cls.ALL


@dataclass(frozen=True)
class AccountRow:
    """One row of the admin's account list."""

    account: Account
    owner_emails: list[str]
    invited_owner_emails: list[str]
    members: int
    goals: int
    credits_spent: int
    last_activity: datetime

    @property
    def low_credits(self) -> bool:
        """Under the owner's own threshold: the mark that warns its members, too."""
        return self.account.credit_balance < self.account.low_credit_threshold


def _like(query: str) -> str:
    escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matches(query: str) -> ColumnElement[bool]:
    """Account name, an owner's email, or the email an owner invite was sent to."""
    like = _like(query)
    owner = exists().where(
        Membership.account_id == Account.id, Membership.role == Role.OWNER,
        User.id == Membership.user_id, func.lower(User.email).like(like, escape="\\"))
    invited = exists().where(
        Invite.account_id == Account.id, Invite.role == Role.OWNER,
        Invite.revoked_at.is_(None), func.lower(Invite.email).like(like, escape="\\"))
    return or_(func.lower(Account.name).like(like, escape="\\"), owner, invited)


def _grouped(session: Session, stmt: Any) -> dict[int, Any]:
    return {int(k): v for k, v in session.execute(stmt)}


def _owners(session: Session, ids: list[int]) -> tuple[dict[int, list[str]],
                                                         dict[int, list[str]]]:
    """Owners who joined, and owner invites still open (a concierge owner not in yet)."""
    joined: dict[int, list[str]] = defaultdict(list)
    for account_id, email in session.execute(
            select(Membership.account_id, User.email).join(User, User.id == Membership.user_id)
            .where(Membership.account_id.in_(ids), Membership.role == Role.OWNER)
            .order_by(User.id)):
        joined[int(account_id)].append(email)
    invited: dict[int, list[str]] = defaultdict(list)
    for account_id, email in session.execute(
            select(Invite.account_id, Invite.email)
            .where(Invite.account_id.in_(ids), Invite.role == Role.OWNER,
                   Invite.accepted_at.is_(None), Invite.revoked_at.is_(None))
            .order_by(Invite.id)):
        if email not in joined[int(account_id)] and email not in invited[int(account_id)]:
            invited[int(account_id)].append(email)
    return joined, invited


def _last_activity(session: Session, ids: list[int]) -> dict[int, datetime]:
    """The latest goal change, credit movement or sign-in of each account."""
    latest: dict[int, datetime] = {}
    sources: tuple[tuple[Any, Any], ...] = (
        (Goal.updated_at, Goal.account_id),
        (CreditLedgerEntry.created_at, CreditLedgerEntry.account_id),
        (WebSession.created_at, WebSession.account_id))
    for column, account in sources:
        for account_id, when in session.execute(
                select(account, func.max(column)).where(account.in_(ids)).group_by(account)):
            if when is not None and (account_id not in latest or when > latest[account_id]):
                latest[int(account_id)] = when
    return latest


def list_accounts(session: Session, *, query: str = "",
                  only: AccountFilter = AccountFilter.ALL) -> list[AccountRow]:
    """Accounts matching ``query`` and the filter, newest first (at most ``MAX_ROWS``)."""
    stmt = select(Account)
    if query.strip():
        stmt = stmt.where(_matches(query.strip()))
    if only == AccountFilter.SUSPENDED:
        stmt = stmt.where(Account.status == AccountStatus.SUSPENDED)
    elif only == AccountFilter.LOW_CREDITS:
        stmt = stmt.where(Account.credit_balance < Account.low_credit_threshold)
    return rows_for(session, list(session.scalars(stmt.order_by(Account.id.desc())
                                                  .limit(MAX_ROWS))))


def rows_for(session: Session, accounts: list[Account]) -> list[AccountRow]:
    """The list's rows for these accounts, in their order."""
    ids = [a.id for a in accounts]
    if not ids:
        return []
    members = _grouped(session, select(Membership.account_id, func.count())
                       .where(Membership.account_id.in_(ids)).group_by(Membership.account_id))
    goals = _grouped(session, select(Goal.account_id, func.count())
                     .where(Goal.account_id.in_(ids)).group_by(Goal.account_id))
    spent = _grouped(session, select(CreditLedgerEntry.account_id, func.sum(CreditLedgerEntry.amount))
                     .where(CreditLedgerEntry.account_id.in_(ids),
                            CreditLedgerEntry.kind.in_(SPEND_KINDS))
                     .group_by(CreditLedgerEntry.account_id))
    owners, invited = _owners(session, ids)
    active = _last_activity(session, ids)
    return [AccountRow(account=a, owner_emails=owners.get(a.id, []),
                       invited_owner_emails=invited.get(a.id, []),
                       members=int(members.get(a.id, 0)), goals=int(goals.get(a.id, 0)),
                       credits_spent=-int(spent.get(a.id) or 0),
                       last_activity=max(active.get(a.id, a.created_at), a.created_at))
            for a in accounts]

"""Asking for credits: an owner's top-up request, seen by the platform admin on /admin.

A request is open until credits next arrive on the account (a grant, a top-up or an
upward adjustment made after it): adding the credits is what answers it, and the
blocked work then resumes by itself (``credits.schedule_resume``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Exists, and_, exists, select
from sqlalchemy.orm import Session

from web4os.accounts.models import Account, Membership, Role, User
from web4os.credits.models import CreditLedgerEntry, EntryKind, TopUpRequest
from web4os.tenancy import AccountId, TenantContext, of_account, scoped

MAX_NOTE = 500
_INCOMING = (EntryKind.GRANT, EntryKind.TOPUP, EntryKind.ADJUSTMENT)


def _answered(request: type[TopUpRequest]) -> Exists:
    """Credits arrived on the request's account after it was made."""
    ledger = CreditLedgerEntry
    return exists().where(and_(ledger.account_id == request.account_id,
                               ledger.kind.in_(_INCOMING), ledger.amount > 0,
                               ledger.created_at >= request.created_at))


def open_request(session: Session, account_id: AccountId) -> TopUpRequest | None:
    """The account's latest unanswered request, if any."""
    return session.scalars(
        scoped(TopUpRequest, account_id).where(~_answered(TopUpRequest))
        .order_by(TopUpRequest.id.desc()).limit(1)).first()


def request_top_up(session: Session, ctx: TenantContext, note: str = "") -> TopUpRequest:
    """Record that the account wants credits; asking twice keeps the one open request."""
    existing = open_request(session, ctx.account_id)
    if existing is not None:
        return existing
    row = TopUpRequest(account_id=ctx.account_id, requested_by_id=ctx.user_id,
                       note=" ".join(note.split())[:MAX_NOTE])
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True, slots=True)
class CreditHelp:
    """How this account gets credits: who to ask, and whether an owner already asked."""

    owners: list[str]
    asked_at: datetime | None


def credit_help(session: Session, account_id: AccountId) -> CreditHelp:
    """The owners an operator asks for credits, and the open request if there is one."""
    owners = list(session.scalars(
        select(User.email).join(Membership, Membership.user_id == User.id)
        .where(of_account(Membership, account_id), Membership.role == Role.OWNER)
        .order_by(User.email)))
    pending = open_request(session, account_id)
    return CreditHelp(owners, pending.created_at if pending else None)


@dataclass(frozen=True, slots=True)
class PendingTopUp:
    """An open request as the admin console lists it."""

    account_id: int
    account_name: str
    balance: int
    requested_by: str
    note: str
    created_at: datetime


def pending_requests(session: Session, limit: int = 50) -> list[PendingTopUp]:
    """Every account's open requests, oldest first (the admin's session, across accounts)."""
    rows = session.execute(
        select(TopUpRequest, Account.name, Account.credit_balance, User.email)
        .join(Account, Account.id == TopUpRequest.account_id)
        .outerjoin(User, User.id == TopUpRequest.requested_by_id)
        .where(~_answered(TopUpRequest))
        .order_by(TopUpRequest.id).limit(limit))
    return [PendingTopUp(r.account_id, name, balance, email or "", r.note, r.created_at)
            for r, name, balance, email in rows]

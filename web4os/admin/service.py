"""Platform-admin work across accounts.

These functions are cross-account by nature; they run in sessions marked with
``tenancy.bind_system`` (the admin route dependency does it), and take a plain
account id from the admin's URL, turned into an ``AccountId`` only after the
account is loaded.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from web4os.accounts.invites import IssuedInvite, issue
from web4os.accounts.models import Account, AccountKind, AccountStatus, Membership, Role, User
from web4os.accounts.schemas import check_account_name
from web4os.accounts.shares import forget_shares
from web4os.config import get_settings
from web4os.credits import service as credits
from web4os.errors import InvalidInput, NotFound, invalid_input
from web4os.onboarding import service as onboarding
from web4os.playbooks.service import BLANK, apply_starter, check_starter
from web4os.queue import enqueue
from web4os.tenancy import AccountId

MAX_GRANT = 10_000_000


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("No such account.")
    return account


def owners_of(session: Session, account_id: int) -> list[User]:
    return list(session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.account_id == account_id, Membership.role == Role.OWNER)
        .order_by(User.id)))


def parse_credits(value: str, *, allow_negative: bool = False, field: str = "amount") -> int:
    """A whole number of credits from a form field, with a readable error."""
    try:
        amount = int(value.replace(",", "").replace("_", "").strip() or "0")
    except ValueError:
        raise InvalidInput("Enter a whole number of credits, e.g. 5000.", field=field) from None
    if abs(amount) > MAX_GRANT:
        raise InvalidInput(f"Keep it under {MAX_GRANT:,} credits at a time.", field=field)
    if amount < 0 and not allow_negative:
        raise InvalidInput("Enter zero or a positive number of credits.", field=field)
    return amount


def create_concierge(session: Session, admin: User, *, name: str, owner_email: str,
                     credit_allowance: int, plan_notes: str,
                     starter: str = BLANK) -> tuple[Account, IssuedInvite]:
    """A hand-onboarded account with its roster and credits, and an owner invite link;
    ``starter`` names the starter playbook the client begins from (``blank``: none)."""
    starter = check_starter(starter)
    with invalid_input("name"):
        name = check_account_name(name, "Name the customer's business.")
    if len(plan_notes) > 5000:
        raise InvalidInput("Keep the plan notes under 5,000 characters.", field="plan_notes")
    account = onboarding.create_account(session, name=name, kind=AccountKind.CONCIERGE,
                                      credit_grant=credit_allowance,
                                      actor=f"admin:{admin.email}", plan_notes=plan_notes.strip())
    apply_starter(session, AccountId(account.id), starter, actor=f"admin:{admin.email}")
    invite = issue(session, AccountId(account.id), email=owner_email, role=Role.OWNER,
                   created_by=admin.id)
    return account, invite


def invite_owner(session: Session, admin: User, account_id: int, email: str) -> IssuedInvite:
    """A fresh owner link (the first one expired, or a second owner is wanted)."""
    account = get_account(session, account_id)
    return issue(session, AccountId(account.id), email=email, role=Role.OWNER,
                 created_by=admin.id)


def change_credits(session: Session, admin: User, account_id: int, *, amount: int,
                   reason: str, key: str | None = None) -> bool:
    """Top up (positive) or correct (negative) the balance; more credits resume blocked work.

    ``key`` (a client's idempotency key) makes a retry change nothing: False comes back
    when a change with that key for this account was already made.
    """
    account = get_account(session, account_id)
    aid = AccountId(account.id)
    reason = " ".join(reason.split())[:200]
    actor = f"admin:{admin.email}"
    ledger_key = None if key is None else f"admin:{account.id}:{key}"
    if amount > 0:  # resume=True: blocked work carries on once this commits
        entry = credits.grant(session, aid, amount, actor=actor,
                              reason=reason or "Granted by an admin", key=ledger_key,
                              resume=True)
    else:
        entry = credits.adjust(session, aid, amount, actor=actor, reason=reason, key=ledger_key)
    return entry is not None


def members_of(session: Session, account_id: int) -> int:
    """How many people lose the right to start work when the account is suspended."""
    return int(session.scalar(select(func.count()).select_from(Membership)
                              .where(Membership.account_id == account_id)) or 0)
MAX_RUNNING, MAX_WEIGHT = 1000, 100


def _whole(value: str, field: str, low: int, high: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise InvalidInput(f"Enter a whole number from {low} to {high}.", field=field) from None
    if not low <= number <= high:
        raise InvalidInput(f"Enter a whole number from {low} to {high}.", field=field)
    return number


def default_max_running() -> int:
    """Cards an account may run at once when its admin page names no cap."""
    return get_settings().account_max_running


def set_share(session: Session, account_id: int, *, max_running: str, weight: str) -> Account:
    """The account's share of the workers: cards running at once (blank: the default) and
    the weight of its turn among accounts with work waiting. The runners read it within
    ``shares.TTL_SECONDS``."""
    account = get_account(session, account_id)
    account.max_running = (None if not max_running.strip()
                           else _whole(max_running, "max_running", 1, MAX_RUNNING))
    account.share_weight = _whole(weight or "1", "share_weight", 1, MAX_WEIGHT)
    session.flush()
    forget_shares()
    return account


def set_status(session: Session, account_id: int, status: AccountStatus) -> Account:
    """Suspend (reading still works, no new work runs) or reactivate (work resumes)."""
    account = get_account(session, account_id)
    if account.status != status:
        account.status = status
        session.flush()
        if status == AccountStatus.ACTIVE:
            enqueue(session, "resume_account", account_id=AccountId(account.id))
    return account

"""Deleting an account: after a grace period, or at once when an admin cuts it short.

Deleting goes child tables first (the reverse of the schema's dependency order), then
the account row and the people who belonged to no other account, then the stored
files. Every table with an ``account_id`` column is covered, including ones added later.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from web4os.accountdata.archive import tenant_tables
from web4os.accounts.models import Account, Membership, User
from web4os.config import get_settings
from web4os.db import Base, utcnow
from web4os.errors import InvalidInput
from web4os.files.held import PURPOSES, held_key
from web4os.files.storage import get_storage
from web4os.tenancy import AccountId, TenantContext


def grace_days() -> int:
    return get_settings().account_deletion_grace_days


def check_confirmation(account: Account, confirm: str) -> None:
    """The account's name, typed, so no stray click deletes a business."""
    if " ".join(confirm.split()).casefold() != account.name.casefold():
        raise InvalidInput(f"Type the account's name ({account.name}) to confirm.",
                           field="confirm")


def request_deletion(session: Session, ctx: TenantContext, confirm: str) -> Account:
    """An owner asks for the account to be deleted once the grace period ends.

    ``confirm`` must be the account's name, so no stray click deletes a business.
    """
    account = session.get(Account, ctx.account_id)
    assert account is not None
    check_confirmation(account, confirm)
    if account.deletion_due_at is None:
        account.deletion_due_at = utcnow() + timedelta(days=grace_days())
        session.flush()
    return account


def cancel_deletion(session: Session, account_id: AccountId) -> Account:
    account = session.get(Account, account_id)
    assert account is not None
    account.deletion_due_at = None
    session.flush()
    return account


def delete_account(session: Session, account_id: int) -> dict[str, int]:
    """Delete every row the account holds and its stored files; returns rows per table.

    Runs in a cross-account session (the account row and users have no tenant wall).
    Stored files go after their rows are gone from this transaction's view but before it
    commits; a crash in between leaves orphaned bytes, never rows pointing at nothing.
    """
    keys = [k for (k,) in session.execute(
        select(Base.metadata.tables["files"].c.storage_key)
        .where(Base.metadata.tables["files"].c.account_id == account_id))]
    members_only_here = select(Membership.user_id).where(Membership.account_id == account_id)
    others = select(Membership.user_id).where(Membership.account_id != account_id)
    lonely = [u for (u,) in session.execute(
        select(User.id).where(User.id.in_(members_only_here), User.id.not_in(others),
                              User.is_platform_admin.is_(False)))]
    removed: dict[str, int] = {}
    for table in reversed(tenant_tables()):
        result = session.execute(delete(table).where(table.c.account_id == account_id))
        removed[table.name] = int(result.rowcount or 0)  # type: ignore[attr-defined]
    session.execute(delete(Account).where(Account.id == account_id))
    if lonely:
        _forget_users(session, lonely)
    removed["users"] = len(lonely)
    storage = get_storage()
    held = [held_key(account_id, purpose) for purpose in PURPOSES]  # e.g. a playbook's preview
    for key in [*keys, *held]:
        storage.delete(key)
    session.flush()
    return removed


def _forget_users(session: Session, user_ids: list[int]) -> None:
    """Users who belonged to no other account; rows elsewhere that name them as a creator
    (another account's invites or tokens cannot, since they had no other account)."""
    session.execute(delete(User).where(User.id.in_(user_ids)))


def due_for_deletion(session: Session, now: datetime | None = None) -> list[int]:
    """Accounts whose grace period has ended."""
    return [int(a) for (a,) in session.execute(
        select(Account.id).where(Account.deletion_due_at.is_not(None),
                                 Account.deletion_due_at <= (now or utcnow())))]

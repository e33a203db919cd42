"""Members, their roles, and the account's own settings (owners only).

The one rule beyond tenant scoping: an account always keeps at least one owner,
so nobody can lock everyone out by demoting or removing the last one.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from web4os.accounts.invites import parse_role
from web4os.accounts.models import Account, Membership, Role
from web4os.accounts.schemas import check_account_name
from web4os.accounts.zones import parse_time_zone
from web4os.errors import Conflict, invalid_input
from web4os.tenancy import AccountId, TenantContext, get_owned, of_account, scoped


def list_members(session: Session, account_id: AccountId) -> list[Membership]:
    """Everyone in the account with their user, owners first."""
    rows = session.scalars(scoped(Membership, account_id)
                           .options(joinedload(Membership.user)).order_by(Membership.id))
    return sorted(rows, key=lambda m: -m.role.rank)


def _owner_count(session: Session, account_id: AccountId) -> int:
    return int(session.scalar(
        select(func.count()).select_from(Membership)
        .where(of_account(Membership, account_id), Membership.role == Role.OWNER)) or 0)


def change_role(session: Session, ctx: TenantContext, membership_id: int,
                role: str) -> Membership:
    """Give a member another role (the last owner stays an owner)."""
    member = get_owned(session, Membership, membership_id, ctx.account_id)
    new_role = parse_role(role)
    if (member.role == Role.OWNER and new_role != Role.OWNER
            and _owner_count(session, ctx.account_id) <= 1):
        raise Conflict("This is the account's only owner. Make someone else an owner first.")
    member.role = new_role
    session.flush()
    return member


def remove_member(session: Session, ctx: TenantContext, membership_id: int) -> None:
    """Take someone out of the account; their other accounts are untouched."""
    member = get_owned(session, Membership, membership_id, ctx.account_id)
    if member.role == Role.OWNER and _owner_count(session, ctx.account_id) <= 1:
        raise Conflict("You can't remove the account's only owner. Make someone else an "
                       "owner first.")
    session.delete(member)
    session.flush()


def update_account(session: Session, ctx: TenantContext, name: str,
                   time_zone: str | None = None) -> Account:
    """Save the account's name and, when given, its time zone (both checked first)."""
    with invalid_input("name"):
        name = check_account_name(name, "Name your business or team.")
    zone = None if time_zone is None else parse_time_zone(time_zone)
    account = session.get(Account, ctx.account_id)
    assert account is not None
    account.name = name
    if zone is not None:
        account.time_zone = zone
    session.flush()
    return account

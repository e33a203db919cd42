"""Invites: a single-use, expiring link that brings a person into an account with a role.

Only the link's hash is stored; the link itself is shown once to whoever created
it (an owner, or a platform admin for a concierge account's first owner), who
passes it on. Opening the link is the authority, so accepting runs before any
tenant is known (the route binds the session as system).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from web4os.accounts.models import Account, Invite, Membership, Role, User
from web4os.accounts.schemas import check_display_name, check_password, normalise_email
from web4os.accounts.security import hash_password, new_token, token_hash
from web4os.config import get_settings
from web4os.db import utcnow
from web4os.errors import Conflict, DomainError, InvalidInput, invalid_input
from web4os.tenancy import AccountId, TenantContext, get_owned, of_account, scoped


class InviteUnusable(DomainError):
    """The link is unknown, expired, used or revoked (410 Gone: ask for a new one)."""

    status_code = 410


@dataclass(frozen=True)
class IssuedInvite:
    row: Invite
    secret: str

    @property
    def path(self) -> str:
        return f"/invite/{self.secret}"


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput("Pick a role: viewer, operator or owner.", field="role") from None


def issue(session: Session, account_id: AccountId, *, email: str, role: Role,
          created_by: int | None, days: int | None = None) -> IssuedInvite:
    """A new invite link for ``email`` (the secret is returned once, never stored)."""
    with invalid_input("email"):
        email = normalise_email(email)
    taken = session.scalar(
        select(Membership.id).join(User, User.id == Membership.user_id)
        .where(of_account(Membership, account_id), User.email == email))
    if taken is not None:
        raise Conflict("That person is already a member of this account.", field="email")
    secret = new_token(24)
    row = Invite(account_id=account_id, email=email, role=role, token_hash=token_hash(secret),
                 created_by_id=created_by,
                 expires_at=utcnow() + timedelta(days=days or get_settings().invite_days))
    session.add(row)
    session.flush()
    return IssuedInvite(row, secret)


def create_invite(session: Session, ctx: TenantContext, *, email: str, role: str) -> IssuedInvite:
    """An owner invites someone into their own account."""
    return issue(session, ctx.account_id, email=email, role=parse_role(role),
                 created_by=ctx.user_id)


def pending_invites(session: Session, account_id: AccountId) -> list[Invite]:
    """Invites not yet accepted, revoked or expired, newest first."""
    return list(session.scalars(
        scoped(Invite, account_id)
        .where(Invite.accepted_at.is_(None), Invite.revoked_at.is_(None),
               Invite.expires_at > utcnow())
        .order_by(Invite.id.desc())))


def revoke_invite(session: Session, ctx: TenantContext, invite_id: int) -> Invite:
    row = get_owned(session, Invite, invite_id, ctx.account_id)
    if row.accepted_at is not None:
        raise Conflict("That invite was already accepted; remove the member instead.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return row


def open_invite(session: Session, secret: str) -> tuple[Invite, Account]:
    """The usable invite behind a link, or ``InviteUnusable`` saying exactly why not."""
    row = session.scalar(select(Invite).where(Invite.token_hash == token_hash(secret)))
    if row is None:
        raise InviteUnusable("This invite link isn't valid. Check that you copied all of it, "
                             "or ask for a new one.")
    if row.revoked_at is not None:
        raise InviteUnusable("This invite was withdrawn. Ask the account owner for a new one.")
    if row.accepted_at is not None:
        raise InviteUnusable("This invite was already used. Log in instead, or ask the "
                             "account owner for a new invite.")
    if row.expires_at < utcnow():
        raise InviteUnusable("This invite has expired. Ask the account owner for a new one.")
    account = session.get(Account, row.account_id)
    assert account is not None
    return row, account


def _join(session: Session, row: Invite, user: User) -> Membership:
    member = Membership(account_id=row.account_id, user_id=user.id, role=row.role)
    session.add(member)
    row.accepted_at = utcnow()
    session.flush()
    return member


def accept_as_new_user(session: Session, secret: str, *, display_name: str,
                       password: str) -> tuple[User, Membership]:
    """Someone new: create their login with the invited email, then join."""
    row, _account = open_invite(session, secret)
    with invalid_input("display_name"):
        display_name = check_display_name(display_name,
                                          "Tell us your name so your team knows who you are.")
    if session.scalar(select(User.id).where(User.email == row.email)) is not None:
        raise Conflict(f"{row.email} already has a login. Log in first, then open this "
                       "link again to join.", field="__all__")
    with invalid_input("password"):
        check_password(password, row.email)
    user = User(email=row.email, password_hash=hash_password(password),
                display_name=display_name)
    session.add(user)
    session.flush()
    return user, _join(session, row, user)


def accept_as_user(session: Session, secret: str, user: User) -> Membership:
    """Someone already logged in joins (the invite must be for their email)."""
    row, _account = open_invite(session, secret)
    if user.email != row.email:
        raise Conflict(f"This invite is for {row.email}, but you're logged in as "
                       f"{user.email}. Log out and open the link again.")
    existing = session.scalar(select(Membership).where(
        Membership.account_id == row.account_id, Membership.user_id == user.id))
    if existing is not None:
        row.accepted_at = utcnow()
        session.flush()
        return existing
    return _join(session, row, user)

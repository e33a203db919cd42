"""Signup, login, sessions and memberships.

Accounts are created here with everything they need to work at once: an
owner, the default agent roster and the starting credit grant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from web4os.accounts import throttle
from web4os.accounts.models import Account, AccountStatus, Membership, User, WebSession
from web4os.accounts.schemas import check_password, normalise_email
from web4os.accounts.security import hash_password, new_token, token_hash, verify_password
from web4os.config import get_settings
from web4os.db import utcnow
from web4os.errors import Conflict, Forbidden, InvalidInput


def find_user(session: Session, email: str) -> User | None:
    try:
        email = normalise_email(email)
    except ValueError:
        return None
    return session.scalar(select(User).where(User.email == email))


def create_user(session: Session, email: str, password: str, *, display_name: str = "",
                platform_admin: bool = False) -> User:
    """A user without an account (platform admins, invite acceptance)."""
    email = normalise_email(email)
    check_password(password, email)
    if find_user(session, email) is not None:
        raise Conflict("A user with that email already exists.", field="email")
    user = User(email=email, password_hash=hash_password(password), display_name=display_name,
                is_platform_admin=platform_admin)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str, address: str) -> User:
    """The user for these credentials, within the sign-in limits (``throttle``).

    The caller must commit even when this raises, so failures are counted.
    """
    throttle.check_login(session, email, address)
    user = find_user(session, email)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        throttle.login_failed(session, email, address)
        raise InvalidInput("That email and password don't match.", field="password")
    throttle.login_succeeded(session, user.email, address)
    return user


def memberships_of(session: Session, user_id: int) -> list[Membership]:
    """The accounts a user belongs to, oldest first."""
    return list(session.scalars(
        select(Membership).where(Membership.user_id == user_id).order_by(Membership.id)
    ))


def membership(session: Session, user_id: int, account_id: int) -> Membership | None:
    return session.scalar(select(Membership).where(
        Membership.user_id == user_id, Membership.account_id == account_id))


# --- sessions -----------------------------------------------------------------

@dataclass(frozen=True)
class NewSession:
    token: str
    row: WebSession


def start_session(session: Session, user: User, account_id: int | None = None) -> NewSession:
    """A login: random cookie token (only its hash stored) and a CSRF secret."""
    if account_id is None:
        first = next(iter(memberships_of(session, user.id)), None)
        account_id = first.account_id if first else None
    token = new_token()
    row = WebSession(token_hash=token_hash(token), user_id=user.id, account_id=account_id,
                     csrf_token=new_token(24),
                     expires_at=utcnow() + timedelta(days=get_settings().session_days))
    session.add(row)
    session.flush()
    return NewSession(token, row)


def resolve_session(session: Session, token: str) -> WebSession | None:
    """The live session for a cookie token, or None (expired, revoked, unknown)."""
    if not token:
        return None
    row = session.scalar(select(WebSession).where(WebSession.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None or row.expires_at < utcnow():
        return None
    return row


def end_session(session: Session, row: WebSession) -> None:
    row.revoked_at = utcnow()
    session.flush()


def switch_account(session: Session, row: WebSession, account_id: int) -> None:
    """Point a session at another account the user belongs to."""
    if membership(session, row.user_id, account_id) is None:
        raise Forbidden("You are not a member of that account.")
    row.account_id = account_id
    session.flush()


def ensure_admin(session: Session, email: str, password: str) -> User:
    """``web4os create-admin``: make (or promote) a platform admin."""
    user = find_user(session, email)
    if user is None:
        return create_user(session, email, password, platform_admin=True)
    user.is_platform_admin = True
    if password:
        check_password(password, user.email)
        user.password_hash = hash_password(password)
    session.flush()
    return user


def account_is_active(session: Session, account_id: int) -> bool:
    """Whether the account may run new work (a suspended one only reads)."""
    status = session.scalar(select(Account.status).where(Account.id == account_id))
    return bool(status == AccountStatus.ACTIVE)

"""Admin API tokens: created by platform admins, shown once, stored hashed, revocable.

Their prefix (``w4a_``) differs from an account token's (``w4_``), so each kind of
route tells at once which kind it was sent, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from web4os.accounts.models import User
from web4os.accounts.security import new_token, token_hash
from web4os.admin.models import AdminToken
from web4os.db import utcnow
from web4os.errors import InvalidInput, NotFound

ADMIN_TOKEN_PREFIX = "w4a_"


@dataclass(frozen=True)
class IssuedAdminToken:
    row: AdminToken
    secret: str


def create_admin_token(session: Session, admin: User, *, name: str) -> IssuedAdminToken:
    """A new admin token; the secret is returned once and never stored."""
    name = " ".join(name.split())
    if not name or len(name) > 80:
        raise InvalidInput("Name the token (under 80 characters), e.g. “Billing script”.",
                           field="name")
    secret = ADMIN_TOKEN_PREFIX + new_token(30)
    row = AdminToken(name=name, prefix=secret[:11], token_hash=token_hash(secret),
                     created_by_id=admin.id)
    session.add(row)
    session.flush()
    return IssuedAdminToken(row, secret)


def list_admin_tokens(session: Session) -> list[AdminToken]:
    """Every admin's tokens: any admin may revoke one (a colleague left, a script leaked)."""
    return list(session.scalars(select(AdminToken).order_by(AdminToken.id.desc())))


def revoke_admin_token(session: Session, token_id: int) -> AdminToken:
    row = session.get(AdminToken, token_id)
    if row is None:
        raise NotFound("No such admin token.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return row


def resolve_admin_token(session: Session, secret: str) -> tuple[AdminToken, User] | None:
    """The live token and its admin for a bearer secret, or None (revoked, unknown, or its
    creator is no longer a platform admin)."""
    if not secret.startswith(ADMIN_TOKEN_PREFIX):
        return None
    row = session.scalar(select(AdminToken).where(AdminToken.token_hash == token_hash(secret)))
    if row is None or row.revoked_at is not None or not row.created_by.is_platform_admin:
        return None
    row.last_used_at = utcnow()
    return row, row.created_by

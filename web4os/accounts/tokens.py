"""API tokens: created by owners, shown once, stored hashed, revocable."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from web4os.accounts.models import Account, ApiToken, Role
from web4os.accounts.security import new_token, token_hash
from web4os.db import utcnow
from web4os.errors import InvalidInput
from web4os.tenancy import AccountId, TenantContext, get_owned, scoped

TOKEN_PREFIX = "w4_"


@dataclass(frozen=True)
class IssuedToken:
    row: ApiToken
    secret: str


def create_token(session: Session, ctx: TenantContext, *, name: str, role: Role) -> IssuedToken:
    """A new token; the secret is returned once and never stored."""
    name = " ".join(name.split())
    if not name or len(name) > 80:
        raise InvalidInput("Name the token (under 80 characters), e.g. “Zapier”.", field="name")
    secret = TOKEN_PREFIX + new_token(30)
    row = ApiToken(account_id=ctx.account_id, name=name, prefix=secret[:10],
                   token_hash=token_hash(secret), role=role, created_by_id=ctx.user_id)
    session.add(row)
    session.flush()
    return IssuedToken(row, secret)


def list_tokens(session: Session, account_id: AccountId) -> list[ApiToken]:
    return list(session.scalars(scoped(ApiToken, account_id).order_by(ApiToken.id.desc())))


def revoke_token(session: Session, ctx: TenantContext, token_id: int) -> ApiToken:
    row = get_owned(session, ApiToken, token_id, ctx.account_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return row


def resolve_token(session: Session, secret: str) -> tuple[ApiToken, Account] | None:
    """The live token and its account for a bearer secret, or None."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(secret)))
    if row is None or row.revoked_at is not None:
        return None
    account = session.get(Account, row.account_id)
    if account is None:
        return None
    row.last_used_at = utcnow()
    return row, account

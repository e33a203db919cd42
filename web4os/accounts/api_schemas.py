"""JSON shapes for the accounts API: the account, members, invites and tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from web4os.accounts.models import ApiToken, Invite, Membership
from web4os.text import Text


class AccountIn(BaseModel):
    """Fields to change; a missing one stays as it is."""

    name: Text | None = None
    time_zone: Text | None = None


class AccountOut(BaseModel):
    id: int
    name: str
    kind: str
    status: str
    time_zone: str
    credit_balance: int
    created_at: datetime


class MemberOut(BaseModel):
    id: int
    user_id: int
    email: str
    display_name: str
    role: str
    joined_at: datetime

    @classmethod
    def of(cls, m: Membership) -> MemberOut:
        return cls(id=m.id, user_id=m.user_id, email=m.user.email,
                   display_name=m.user.display_name, role=m.role.value, joined_at=m.created_at)


class RoleIn(BaseModel):
    role: Text


class InviteIn(BaseModel):
    email: Text
    role: Text


class InviteOut(BaseModel):
    id: int
    email: str
    role: str
    created_at: datetime
    expires_at: datetime
    url: str | None = None  # only in the answer that creates it

    @classmethod
    def of(cls, row: Invite, url: str | None = None) -> InviteOut:
        return cls(id=row.id, email=row.email, role=row.role.value, created_at=row.created_at,
                   expires_at=row.expires_at, url=url)


class TokenIn(BaseModel):
    name: Text
    role: Text


class TokenFields(BaseModel):
    """What every token shows, an account's or an admin's; never its hash."""
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    secret: str | None = None  # only in the answer that creates it


class TokenOut(TokenFields):
    role: str

    @classmethod
    def of(cls, row: ApiToken, secret: str | None = None) -> TokenOut:
        return cls(id=row.id, name=row.name, prefix=row.prefix, role=row.role.value,
                   created_at=row.created_at, last_used_at=row.last_used_at,
                   revoked_at=row.revoked_at, secret=secret)

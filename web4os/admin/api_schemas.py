"""JSON shapes of the admin API: accounts as the console shows them, and admin tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from web4os.accounts.api_schemas import TokenFields
from web4os.admin.directory import AccountRow
from web4os.admin.models import AdminToken
from web4os.text import Text


class AdminAccountOut(BaseModel):
    id: int
    name: str
    kind: str
    status: str
    credit_balance: int
    max_running: int | None
    share_weight: int
    owner_emails: list[str]
    invited_owner_emails: list[str]
    members: int
    goals: int
    credits_spent: int
    created_at: datetime
    last_activity: datetime
    deletion_due_at: datetime | None

    @classmethod
    def of(cls, row: AccountRow) -> AdminAccountOut:
        a = row.account
        return cls(id=a.id, name=a.name, kind=a.kind.value, status=a.status.value,
                   credit_balance=a.credit_balance, max_running=a.max_running,
                   share_weight=a.share_weight, owner_emails=row.owner_emails,
                   invited_owner_emails=row.invited_owner_emails, members=row.members,
                   goals=row.goals, credits_spent=row.credits_spent, created_at=a.created_at,
                   last_activity=row.last_activity, deletion_due_at=a.deletion_due_at)


class ConciergeIn(BaseModel):
    """The admin console's "new account" form."""

    name: Text
    email: Text = Field(description="The owner to invite.")
    credit_allowance: int = 5000
    plan_notes: Text = ""
    starter: Text = Field(default="blank", max_length=40,
                         description="The starter playbook the client begins from "
                                     "(GET /api/v1/playbooks/starters; ``blank``: none).")


class OwnerInviteOut(BaseModel):
    email: str
    expires_at: datetime
    url: str = Field(description="The one-time link; only in this answer. Send it yourself.")


class ConciergeOut(BaseModel):
    account: AdminAccountOut
    owner_invite: OwnerInviteOut


class OwnerInviteIn(BaseModel):
    email: Text


class CreditsIn(BaseModel):
    """A grant (positive) or a correction (negative, ``reason`` required)."""

    amount: int
    reason: Text = ""


class CreditsOut(BaseModel):
    applied: bool = Field(description="False when this Idempotency-Key was used before: "
                                      "nothing changed this time.")
    credit_balance: int


class ShareIn(BaseModel):
    """The account's share of the workers (the console's "share" form)."""

    max_running: int | None = Field(default=None,
                                    description="Cards at once; null: the default.")
    share_weight: int = 1


class AdminTokenIn(BaseModel):
    name: Text


class AdminTokenOut(TokenFields):
    created_by: str

    @classmethod
    def of(cls, row: AdminToken, secret: str | None = None) -> AdminTokenOut:
        return cls(id=row.id, name=row.name, prefix=row.prefix, created_by=row.created_by.email,
                   created_at=row.created_at, last_used_at=row.last_used_at,
                   revoked_at=row.revoked_at, secret=secret)

"""Tables for who can get in and what they may do."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from web4os.db import Base, UTCDateTime, str_enum, utcnow


class AccountKind(enum.StrEnum):
    INDIVIDUAL = "individual"
    CONCIERGE = "concierge"


class AccountStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Role(enum.StrEnum):
    """Roles inside an account, weakest first."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return [Role.VIEWER, Role.OPERATOR, Role.OWNER].index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


# The tables below declare their columns one per line, so tables with the same
# kinds of column (id, account_id, a title, timestamps) look alike: separate tables,
# not one rule written twice.
class Account(Base):
    """A tenant: a business with its own agents, goals, members and credits."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[AccountKind] = mapped_column(str_enum(AccountKind, "account_kind"))
    status: Mapped[AccountStatus] = mapped_column(
        str_enum(AccountStatus, "account_status"), default=AccountStatus.ACTIVE
    )
    # Kept equal to the sum of the ledger by the credits service (guarded UPDATE).
    credit_balance: Mapped[int] = mapped_column(Integer, default=0)
    # Members hear once when the balance falls below this (0: never); see notifications.
    low_credit_threshold: Mapped[int] = mapped_column(Integer, default=100, server_default="100")
    plan_notes: Mapped[str] = mapped_column(Text, default="")
    # An IANA zone name: routines fire and monthly budgets reset on this clock.
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # Monthly budget (credits per calendar month in ``time_zone``); None means no budget.
    monthly_budget: Mapped[int | None] = mapped_column(Integer, nullable=True)
    budget_warn_percent: Mapped[int] = mapped_column(Integer, default=80, server_default="80")
    # The months ("2026-12") whose warning went out, and that the rollover sweep last saw.
    budget_warned: Mapped[str | None] = mapped_column(String(7), nullable=True)
    budget_month: Mapped[str | None] = mapped_column(String(7), nullable=True)
    # Set when an owner (or admin) asks for deletion: the day everything goes.
    deletion_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Events and deliverables older than this many months are dropped; None keeps all.
    retention_months: Mapped[int | None] = mapped_column(Integer, nullable=True)
    retention_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A self-serve account whose starting credits wait for its owner to verify their email.
    starting_credits_pending: Mapped[bool] = mapped_column(Boolean, default=False,
                                                           server_default=false())
    # The scheduler's share: cards running at once (None: ``account_max_running``) and
    # the weight of this account's turn among accounts with work waiting (admin-set).
    max_running: Mapped[int | None] = mapped_column(Integer, nullable=True)
    share_weight: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(back_populates="account")


class User(Base):
    """A person; may belong to several accounts."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(120), default="")
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the person opened a verification link sent to ``email`` (None: never).
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")

    @property
    def label(self) -> str:
        return self.display_name or self.email.split("@")[0]


class Membership(Base):
    """A user's role inside one account."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("account_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[Role] = mapped_column(str_enum(Role, "member_role"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships")


class WebSession(Base):
    """A server-side login session; the cookie holds only a random id (hashed here)."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RateEvent(Base):
    """One counted event (a failed or successful login, a signup, a verification email),
    kept in the database so every web process sees the same counts (``accounts/throttle``)."""

    __tablename__ = "rate_events"
    __table_args__ = (
        Index("ix_rate_events_kind_subject", "kind", "subject", "created_at"),
        Index("ix_rate_events_kind_address", "kind", "address", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(254), default="")  # e.g. the email tried
    address: Mapped[str] = mapped_column(String(64), default="")  # the client's address
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Invite(Base):
    """A single-use, expiring link that brings a person into an account with a role."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(str_enum(Role, "invite_role"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ApiToken(Base):
    """A bearer token for ``/api/v1``; only its hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(str_enum(Role, "token_role"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

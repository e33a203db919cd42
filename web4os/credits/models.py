"""The append-only credit ledger."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from web4os.db import Base, UTCDateTime, str_enum, utcnow


class EntryKind(enum.StrEnum):
    GRANT = "grant"
    TOPUP = "topup"
    RESERVATION = "reservation"
    SETTLEMENT = "settlement"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"


class CreditLedgerEntry(Base):
    """One signed movement of credits; ``sum(amount)`` is the account's balance.

    ``idempotency_key`` is unique, so a redelivered reservation or settlement
    cannot be written twice: the second insert is skipped (``ON CONFLICT DO NOTHING``)
    and the balance change that came with it undone (``credits.service._move``).
    """

    __tablename__ = "credit_ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[EntryKind] = mapped_column(str_enum(EntryKind, "ledger_kind"))
    amount: Mapped[int] = mapped_column(Integer)
    balance_after: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(120), unique=True, nullable=True)
    goal_id: Mapped[int | None] = mapped_column(ForeignKey("goals.id"), nullable=True, index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), nullable=True, index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), nullable=True)
    actor: Mapped[str] = mapped_column(String(120), default="system")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class TopUpRequest(Base):
    """An owner's request for credits, for the platform admin to act on (/admin).

    It stays open until credits are next added to the account (a grant, top-up or upward
    adjustment after it), so nobody has to close it by hand."""

    __tablename__ = "topup_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

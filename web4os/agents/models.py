"""The per-account agent roster."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from web4os.db import Base, UTCDateTime, utcnow


# The tables below declare their columns one per line, so tables with the same
# kinds of column (id, account_id, a title, timestamps) look alike: separate tables,
# not one rule written twice.
class Agent(Base):
    """A specialist (or the CEO) an account can assign work to.

    ``model``/``base_url`` empty means "the account default", which is the
    configured OpenAI-compatible endpoint or the offline model.
    """

    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("account_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    slug: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str] = mapped_column(String(120), default="")
    base_url: Mapped[str] = mapped_column(String(500), default="")
    tools: Mapped[list[Any]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    is_ceo: Mapped[bool] = mapped_column(Boolean, default=False)
    credit_cap: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Credits per calendar month in the account's zone; the month its warning went out.
    monthly_budget: Mapped[int | None] = mapped_column(Integer, nullable=True)
    budget_warned: Mapped[str | None] = mapped_column(String(7), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def initials(self) -> str:
        return initials_of(self.name)


def initials_of(name: str) -> str:
    """The two letters on an agent's avatar."""
    parts = [p for p in name.replace("-", " ").split() if p]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


class Note(Base):
    """A piece of business knowledge the operator keeps for the agents (a tool reads it)."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

"""A goal template: what a goal is started with, kept under a name.

The attached files are referenced by id (``attachments``), not copied: the template
follows the account's files as they are, and starting a goal copies their bytes onto
the new goal as the goal form's uploads are stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from web4os.db import Base, UTCDateTime, utcnow


class GoalTemplate(Base):
    """A named goal to start again and again (by hand, by the API, or by a routine)."""

    __tablename__ = "goal_templates"
    # One live template per name in an account; a deleted one frees its name.
    __table_args__ = (Index("uq_goal_templates_account_id_name_live", "account_id", "name",
                            unique=True, sqlite_where=text("archived_at IS NULL"),
                            postgresql_where=text("archived_at IS NULL")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(200))
    brief: Mapped[str] = mapped_column(Text, default="")
    require_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    credit_cap: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Ids of the account's files (knowledge files or a goal's attachments), in order.
    attachments: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

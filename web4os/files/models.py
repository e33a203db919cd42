"""A stored file: a tenant-owned row (name, type, size, extracted text) plus its bytes
in the store under ``storage_key``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from web4os.db import Base, UTCDateTime, utcnow


class StoredFile(Base):
    """A goal's attachment (``goal_id`` set), a file a card's specialist made (``task_id``
    too), or a file of the account's knowledge (neither)."""

    __tablename__ = "files"
    __table_args__ = (Index("ix_files_account_id_goal_id", "account_id", "goal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    goal_id: Mapped[int | None] = mapped_column(ForeignKey("goals.id"), nullable=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text, default="")
    # Why the agents can't read this file ("" when its text was extracted).
    unreadable_reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_knowledge(self) -> bool:
        return self.goal_id is None

"""The platform admins' own table: their API tokens (no account owns them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from web4os.accounts.models import User
from web4os.db import Base, UTCDateTime, utcnow


class AdminToken(Base):
    """A bearer token for ``/api/v1/admin``; only its hash is stored.

    It acts for the admin who created it, and only while that person is still a platform
    admin; it is never an account's token, so tenant routes refuse it.
    """

    __tablename__ = "admin_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                               index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    created_by: Mapped[User] = relationship(lazy="joined")

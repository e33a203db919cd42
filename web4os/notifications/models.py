"""Notifications, who has read them, each member's choices, and the mail outbox."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from web4os.db import Base, UTCDateTime, str_enum, utcnow


class Notification(Base):
    """One thing that happened in an account, for its members (in-app, mail, webhooks).

    ``once_key`` names the occurrence (a card's attempt, a crossing of the credit
    threshold), so a redelivered job that raises it again records nothing new.
    """

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("account_id", "once_key"),
                      Index("ix_notifications_account_id_id", "account_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(500), default="")
    goal_id: Mapped[int | None] = mapped_column(ForeignKey("goals.id"), nullable=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), nullable=True)
    once_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationRead(Base):
    """A member read one notification above their ``read_up_to`` mark."""

    __tablename__ = "notification_reads"
    __table_args__ = (UniqueConstraint("user_id", "notification_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)


class NotificationSettings(Base):
    """One member's choices in one account: which events are mailed, how often, and
    how far they have read ("mark all read" moves ``read_up_to``). No row: defaults."""

    __tablename__ = "notification_settings"
    __table_args__ = (UniqueConstraint("account_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The mailed events' names; None: the defaults for the member's role.
    mail_events: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    digest_minutes: Mapped[int] = mapped_column(Integer, default=0)
    last_mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    read_up_to: Mapped[int] = mapped_column(Integer, default=0)


class MailState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class NotificationMail(Base):
    """One notification owed to one member by mail: the outbox a send job claims from
    (``pending → sending`` by a guarded update, so one process sends each)."""

    __tablename__ = "notification_mails"
    __table_args__ = (UniqueConstraint("user_id", "notification_id"),
                      Index("ix_notification_mails_state_account_id", "state", "account_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"))
    state: Mapped[MailState] = mapped_column(str_enum(MailState, "notification_mail_state"),
                                             default=MailState.PENDING)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

"""Tables of the webhooks: an account's endpoints, and one delivery row per endpoint per
event (the outbox the senders work from, and the log the operator reads)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from web4os.db import Base, UTCDateTime, str_enum, utcnow


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # written, not tried yet
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # the last try failed; another follows at next_attempt_at
    GAVE_UP = "gave_up"  # failed for the whole retry window (or the endpoint went away)


# A delivery in one of these is sent when its next_attempt_at comes.
WAITING = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)


class WebhookEndpoint(Base):
    """Where an account's events go: a URL, the events it wants, and its signing secret
    (encrypted at rest; shown once, when it is made)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(200), default="")
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    secret_hint: Mapped[str] = mapped_column(String(20), default="")  # "whsec_…abcd"
    # After a rotation the old secret signs too, until then, so receivers can switch over.
    previous_secret_encrypted: Mapped[str] = mapped_column(Text, default="")
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """One event for one endpoint: its body, and how sending it went so far.

    ``message_id`` is the ``webhook-id`` header, the same on every retry, so a receiver
    can drop a repeat. ``attempts`` also fences the sender: a result is written only by
    the attempt that claimed the row (``claimed_until`` is that claim's lease)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    event: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[DeliveryStatus] = mapped_column(
        str_enum(DeliveryStatus, "webhook_delivery_status"), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

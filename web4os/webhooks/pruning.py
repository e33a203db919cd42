"""The delivery log keeps finished deliveries for ``LOG_DAYS`` days.

An endpoint subscribed to busy events gains rows for every card and goal; without a
limit its log, and the outbox table every sweep reads, grow for ever. Deliveries still
waiting for a try are never pruned (the retry window is one day, far inside the limit).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from web4os.db import utcnow
from web4os.tenancy import system_session, tenant_session
from web4os.webhooks.models import DeliveryStatus, WebhookDelivery

LOG_DAYS = 30
EVERY = timedelta(hours=1)  # the step is cheap to skip; the sweep runs every few seconds
FINISHED = (DeliveryStatus.DELIVERED, DeliveryStatus.GAVE_UP)

_last_run: datetime | None = None
_last_run_lock = threading.Lock()


def prune_log(now: datetime | None = None) -> int:
    """Delete finished deliveries made more than ``LOG_DAYS`` ago; returns how many."""
    cutoff = (now or utcnow()) - timedelta(days=LOG_DAYS)
    t = WebhookDelivery
    old = (t.status.in_(FINISHED), t.created_at < cutoff)
    with system_session() as s:
        accounts = s.scalars(select(t.account_id).where(*old).distinct()).all()
    removed = 0
    for account_id in accounts:  # each account's rows in its own tenant's transaction
        with tenant_session(account_id) as s:
            done = s.execute(delete(t).where(t.account_id == account_id, *old)
                             .execution_options(synchronize_session=False))
            removed += int(done.rowcount or 0)  # type: ignore[attr-defined]
    return removed


def prune_step() -> int:
    """The sweep's step: ``prune_log`` at most once an ``EVERY`` per process."""
    global _last_run
    now = utcnow()
    with _last_run_lock:
        if _last_run is not None and now - _last_run < EVERY:
            return 0
        _last_run = now
    return prune_log(now)

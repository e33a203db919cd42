"""The senders: a few threads per process that only send webhooks, apart from the card
workers, so a receiver that hangs or never answers costs a sender's time, never a card's
or a request's.

Work reaches them two ways: right after a transaction that wrote deliveries commits
(``send_after_commit``), and from the sweep (``send_due``), which hands over every
delivery whose retry is due, and any a crash or a full queue left behind. The queue is
bounded and hand-offs never wait: what does not fit stays due in the database, and the
next sweep offers it again. Handing one delivery to several processes is harmless: the
attempt claims it first (``delivery.attempt``).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from web4os.config import get_settings
from web4os.db import on_commit, utcnow
from web4os.tenancy import system_session
from web4os.webhooks import delivery
from web4os.webhooks.models import WAITING, WebhookDelivery

log = logging.getLogger("web4os.webhooks")

QUEUE_SIZE = 1000
SWEEP_BATCH = 500


class SenderPool:
    """``senders`` daemon threads taking (delivery id, account id) from a bounded queue."""

    def __init__(self, senders: int, capacity: int = QUEUE_SIZE) -> None:
        self._queue: queue.Queue[tuple[int, int]] = queue.Queue(maxsize=capacity)
        self._queued: set[int] = set()  # in the queue or being sent: not queued twice
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._work, daemon=True,
                                          name=f"web4os-webhooks-{n}") for n in range(senders)]
        for thread in self._threads:
            thread.start()

    def submit(self, delivery_id: int, account_id: int) -> bool:
        """Queue one delivery without waiting; False if it is queued already or the queue
        is full (then the sweep offers it again)."""
        with self._lock:
            if delivery_id in self._queued:
                return False
            try:
                self._queue.put_nowait((delivery_id, account_id))
            except queue.Full:
                return False
            self._queued.add(delivery_id)
            return True

    def submit_all(self, items: Iterable[tuple[int, int]]) -> int:
        return sum(self.submit(d, a) for d, a in items)

    def busy(self) -> int:
        """Deliveries queued or being sent now."""
        with self._lock:
            return len(self._queued)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every queued delivery was tried (tests and shutdown)."""
        done = threading.Event()

        def watch() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=watch, daemon=True).start()
        return done.wait(timeout)

    def _work(self) -> None:
        while True:
            delivery_id, account_id = self._queue.get()
            try:
                delivery.attempt(delivery_id, account_id=account_id)
            except Exception:  # the row stays due; the sweep offers it again
                log.exception("webhook delivery %s could not be attempted", delivery_id)
            finally:
                with self._lock:
                    self._queued.discard(delivery_id)
                self._queue.task_done()


_pool: SenderPool | None = None
_pool_pid = 0
_pool_lock = threading.Lock()


def sender_pool() -> SenderPool:
    """This process's senders, started on first use (again in a forked child)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool, _pool_pid = SenderPool(get_settings().webhook_senders), os.getpid()
        return _pool


def send_after_commit(session: Session, items: list[tuple[int, int]]) -> None:
    """Hand these deliveries to the senders once ``session`` commits; never if it rolls back."""
    def hand_over() -> None:
        sender_pool().submit_all(items)

    if items:
        on_commit(session, hand_over)


def due_deliveries(limit: int = SWEEP_BATCH) -> list[tuple[int, int]]:
    """(id, account id) of deliveries whose attempt is due and not claimed by a live one."""
    now = utcnow()
    t = WebhookDelivery
    with system_session() as s:
        rows = s.execute(select(t.id, t.account_id).where(
            t.status.in_(WAITING), t.next_attempt_at <= now,
            or_(t.claimed_until.is_(None), t.claimed_until < now))
            .order_by(t.next_attempt_at).limit(limit)).all()
    return [(int(d), int(a)) for d, a in rows]


def send_due() -> int:
    """The sweep's step: hand every due delivery to this process's senders (returns how
    many were queued). It only queues, so a dead receiver never slows the sweep."""
    due = due_deliveries()
    return sender_pool().submit_all(due) if due else 0

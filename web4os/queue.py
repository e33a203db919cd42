"""The job queue interface: where jobs go, and when.

Jobs are only ever sent after the transaction that made them necessary has
committed (``enqueue`` registers an after-commit hook), so a worker never
looks for a row that does not exist yet.

**Hand-off.** A job running under ``handoff()`` keeps the first card it queues
(``run_task``, due now) and runs it itself next, instead of sending it through the
queue: a finished card most often unblocks exactly one other, and that card then
starts at once, in the thread that is already there, without a trip through the
broker. The others go through the queue as usual, for other threads and workers to run
in parallel. Only while nobody else waits: a card is kept only if the queue says it
has no backlog and is not shutting down (``takes_handoffs``), and a chain of kept
cards ends after ``HANDOFF_SECONDS``; past that, its next card queues behind the
others like any card.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from web4os.db import on_commit


class JobQueue(Protocol):
    """Something that runs a named job with keyword arguments, now or after ``countdown``.

    It may also say whether a job may keep the next card for itself now
    (``takes_handoffs() -> bool``: nothing waiting, not shutting down); a queue
    without that method always lets it.
    """

    def submit(self, name: str, kwargs: dict[str, Any], countdown: float = 0.0) -> None: ...


_queue: JobQueue | None = None
_lock = threading.Lock()


def set_queue(queue: JobQueue | None) -> None:
    """Install the process's queue (the CLI, the Celery worker and tests call this)."""
    global _queue
    with _lock:
        _queue = queue


def installed_queue() -> JobQueue | None:
    """The queue this process uses, without creating one (the health page peeks)."""
    with _lock:
        return _queue


def get_queue() -> JobQueue:
    """The installed queue. Start-up installs one (``workers.install_queue``: the CLI,
    ``create_app``, the Celery worker); domain code only ever sends jobs through it."""
    with _lock:
        if _queue is None:
            raise RuntimeError("No job queue is installed: call web4os.workers.install_queue() "
                               "at start-up.")
        return _queue


RANK = "_rank"  # a job's place in its account's lane (lower first); runners strip it
DEFAULT_RANK = 2 << 40  # an unranked job (a re-send): with goals under way, ahead of new ones


def lane_of(kwargs: dict[str, Any]) -> tuple[int, int]:
    """The account whose lane a job waits in (0: the sweep's), and its rank there."""
    return int(kwargs.get("account_id") or 0), int(kwargs.get(RANK, DEFAULT_RANK))


def job_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The job's own arguments, without the scheduler's rank."""
    return {k: v for k, v in kwargs.items() if k != RANK} if RANK in kwargs else kwargs


def enqueue(session: Session, name: str, countdown: float = 0.0, **kwargs: Any) -> None:
    """Send job ``name`` once ``session`` commits; dropped if it rolls back."""
    on_commit(session, lambda: _send(name, kwargs, countdown))


HANDED_OFF = "run_task"  # the only job a job keeps for itself
HANDOFF_SECONDS = 5.0  # a chain of kept cards hands its next one to the queue after this


@dataclass
class Slot:
    """The job a running job keeps to run next (see ``handoff``)."""

    since: float  # when the chain began (time.monotonic())
    job: tuple[str, dict[str, Any]] | None = None

    def may_keep(self) -> bool:
        if self.job is not None or time.monotonic() - self.since >= HANDOFF_SECONDS:
            return False
        takes = getattr(get_queue(), "takes_handoffs", None)
        return bool(takes()) if callable(takes) else True


_local = threading.local()


@contextmanager
def handoff(since: float | None = None) -> Iterator[Slot]:
    """Run a job that may keep the first card it queues for this thread (``Slot.job``);
    ``since``: when the chain it continues began.

    If the block fails, the kept card goes to the queue after all: nothing is lost.
    """
    slot = Slot(time.monotonic() if since is None else since)
    outer = getattr(_local, "slot", None)
    _local.slot = slot
    try:
        yield slot
    except BaseException:
        if slot.job is not None:
            name, kwargs = slot.job
            slot.job = None
            get_queue().submit(name, kwargs)
        raise
    finally:
        _local.slot = outer


def _send(name: str, kwargs: dict[str, Any], countdown: float) -> None:
    slot: Slot | None = getattr(_local, "slot", None)
    if slot is not None and name == HANDED_OFF and countdown <= 0 and slot.may_keep():
        slot.job = (name, kwargs)
        return
    get_queue().submit(name, kwargs, countdown)

"""Where jobs go: the in-process runner or Celery, chosen by settings.

Jobs are only ever sent after the transaction that made them necessary has
committed (``enqueue`` registers an after-commit hook), so a worker never
looks for a row that does not exist yet.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from sqlalchemy.orm import Session

from web4os.config import get_settings
from web4os.db import on_commit


class JobQueue(Protocol):
    """Something that runs a named job with keyword arguments, now or after ``countdown``."""

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
    """The installed queue; by default the one the settings ask for."""
    global _queue
    with _lock:
        if _queue is None:
            if get_settings().dispatch == "celery":
                from web4os.workers.celery_app import CeleryQueue

                _queue = CeleryQueue()
            else:
                from web4os.workers.embedded import EmbeddedRunner

                _queue = EmbeddedRunner.shared()
        return _queue


def enqueue(session: Session, name: str, countdown: float = 0.0, **kwargs: Any) -> None:
    """Send job ``name`` once ``session`` commits; dropped if it rolls back."""
    on_commit(session, lambda: get_queue().submit(name, kwargs, countdown))

"""Marking the calls that wait, so the in-process runner computes something else meanwhile.

A model endpoint takes seconds to answer; the Python around it takes a millisecond or
two and needs the GIL. The embedded runner lets one job compute at a time and hands
the turn on while a job waits (see ``workers.embedded``); so does each Celery worker
process (``Turn``). They learn that a job waits from ``waiting()``, which each model
provider puts around the part of a call that waits: the HTTP request, the offline
model's configured latency. Anywhere else (the web server's threads, tests)
``waiting()`` does nothing.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

_local = threading.local()


def install(handler: Callable[[], contextlib.AbstractContextManager[None]] | None) -> None:
    """Make ``handler()`` the context entered by ``waiting()`` on this thread (a runner's
    own threads install theirs when they start; ``None`` removes it)."""
    _local.handler = handler


@contextlib.contextmanager
def waiting() -> Iterator[None]:
    """Around a call that mostly waits: this thread's job gives up its turn meanwhile
    (once: a wait inside a wait changes nothing)."""
    handler = getattr(_local, "handler", None)
    if handler is None or getattr(_local, "inside", False):
        yield
        return
    _local.inside = True
    try:
        with handler():
            yield
    finally:
        _local.inside = False


STALL_SECONDS = 0.25  # a turn held longer than this without a wait lets the next job in


class Turn:
    """One job of this process computes at a time (a Celery worker, either pool).

    A job holds the turn while it runs (``held``) and gives it up while it waits on
    its model (``waiting``), so hundreds of jobs still wait together. Unlike the embedded
    runner, which schedules its own threads, this one cannot put a job back from its
    model ahead of a new one: Celery's pool picks the jobs. Why: with threads, jobs
    computing side by side only take turns on the GIL in slow motion; with greenlets,
    every database round trip would switch to another job's queries. Either way a job's
    database work stretches out, and on Postgres a job that is switched out while it
    holds the account's row lock makes every other process's jobs wait for that lock
    too; each job in its database work also holds a connection. A job that keeps its turn longer than
    ``STALL_SECONDS`` without a wait (a lock held by another process, a slow query)
    does not hold the others up: past that, the next one starts beside it.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = 0
        self._since = 0.0
        self.waiters = 0  # jobs waiting for the turn (a chain of hand-offs ends for them)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Run the block as this process's computing job (and mark its waits)."""
        outer = getattr(_local, "handler", None)
        self._take()
        install(self._waiting)
        try:
            yield
        finally:
            install(outer)
            self._give()

    def _take(self) -> None:
        with self._cond:
            self.waiters += 1
            try:
                while self._busy and time.monotonic() - self._since <= STALL_SECONDS:
                    self._cond.wait(STALL_SECONDS)
            finally:
                self.waiters -= 1
            self._busy += 1
            self._since = time.monotonic()

    def _give(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify()

    @contextlib.contextmanager
    def _waiting(self) -> Iterator[None]:
        self._give()
        try:
            yield
        finally:
            self._take()

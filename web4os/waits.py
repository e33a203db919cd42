"""Marking the calls that wait, so the in-process runner computes something else meanwhile.

A model endpoint takes seconds to answer; the Python around it takes a millisecond or
two and needs the GIL. The embedded runner lets one job compute at a time and hands
the turn on while a job waits (see ``workers.embedded``). It learns that a job waits
from ``waiting()``, which each model provider puts around the part of a call that
waits: the HTTP request, the offline model's configured latency. Anywhere else (the
web server's threads, Celery workers, tests) ``waiting()`` does nothing.
"""

from __future__ import annotations

import contextlib
import threading
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

"""The gevent side of a Celery worker: waits that cost no thread.

``web4os worker`` runs its jobs as greenlets (Celery's gevent pool) once ``patch()`` has
made the standard library cooperative: a job waiting on its model endpoint, the
database (psycopg 3 waits cooperatively when it finds gevent's patches), Redis or a
mail server yields to the others, so the calls in flight are bounded by the worker's
concurrency, not by threads. ``web4os serve`` and the tests never patch; there every
function here is a no-op or a plain call.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# Native threads that run asyncio code (the MCP SDK) for a gevent worker's jobs at once;
# the rest of its jobs wait on them without holding a thread of their own.
APART_THREADS = 32


def patch() -> None:
    """Make sockets, locks, threads and sleeps cooperative (once, before other imports)."""
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        monkey.patch_all()
        import gevent

        gevent.get_hub().threadpool.maxsize = APART_THREADS


def is_green() -> bool:
    """True in a gevent worker (the standard library is patched)."""
    if "gevent.monkey" not in sys.modules:
        return False
    from gevent import monkey

    return bool(monkey.is_module_patched("threading"))


def run_apart(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on a native thread of gevent's pool, the calling greenlet waiting
    cooperatively. For asyncio code: an event loop belongs to a native thread, so two
    greenlets of one thread cannot each run one (``Cannot run the event loop while
    another loop is running``)."""
    import gevent

    result: T = gevent.get_hub().threadpool.apply(fn, args)
    return result

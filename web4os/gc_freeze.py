"""Keep the objects a process builds at start-up out of the garbage collector's full sweeps."""

from __future__ import annotations

import gc
import threading

_frozen = False
_lock = threading.Lock()


def freeze_startup_objects() -> None:
    """Collect once, then freeze everything alive now (once per process).

    Why: a full (generation 2) collection walks every long-lived object (SQLAlchemy's
    mappers, compiled templates, the routes), a pause of a couple of hundred
    milliseconds on a small machine that lands on whichever request triggers it.
    Frozen objects are never scanned again; they are not garbage. Garbage made later
    is collected as usual.
    """
    global _frozen
    with _lock:
        if _frozen:
            return
        _frozen = True
    gc.collect()
    gc.freeze()

"""Running a coroutine to the end from a synchronous test, on a thread of its own.

The browser tests keep Playwright's event loop running on the main thread for the whole
session, so ``asyncio.run`` there fails ("cannot be called from a running event loop")
in any test that runs after them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_coroutine(main: Callable[[], Coroutine[Any, Any, T]], timeout: float = 60.0) -> T:
    """``asyncio.run(main())`` on a new thread; its result, or its exception re-raised."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(main())
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"the coroutine did not finish in {timeout:.0f} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]

"""An endpoint that answers 429 slows every caller of it, not only the one it answered:
until its ``Retry-After`` has passed (or a second, if it named none), each call to it
waits before it is sent. The wait is marked as one (``turns.waiting``), so it holds no
turn, and the card is not failed for it (``goals.execution`` retries a 429 whatever
the attempt)."""

from __future__ import annotations

import threading
import time

DEFAULT_SECONDS = 1.0
MAX_SECONDS = 60.0


class Cooldowns:
    """When each endpoint may be called again (``time.monotonic()``)."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def hold(self, endpoint: str, seconds: float | None) -> None:
        """The endpoint said 429: no call to it before ``seconds`` from now."""
        until = time.monotonic() + min(MAX_SECONDS, DEFAULT_SECONDS if seconds is None
                                       else seconds)
        with self._lock:
            self._until[endpoint] = max(until, self._until.get(endpoint, 0.0))

    def wait(self, endpoint: str) -> float:
        """Sleep until the endpoint may be called; how long that was."""
        with self._lock:
            until = self._until.get(endpoint, 0.0)
        left = until - time.monotonic()
        if left <= 0:
            return 0.0
        time.sleep(left)
        return left

    def clear(self) -> None:
        with self._lock:
            self._until.clear()


COOLDOWNS = Cooldowns()

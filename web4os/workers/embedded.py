"""The in-process runner for the embedded default: a thread pool inside ``web4os serve``.

It runs the very same job functions Celery runs; only the transport differs.
A periodic sweep finds work left behind by a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from web4os.config import get_settings

log = logging.getLogger("web4os.embedded")


class EmbeddedRunner:
    """A thread pool that runs jobs by name, with delayed submits and a sweeper."""

    _shared: EmbeddedRunner | None = None
    _shared_lock = threading.Lock()

    def __init__(self, workers: int | None = None, *, sweep_interval: float | None = None) -> None:
        settings = get_settings()
        self.pool = ThreadPoolExecutor(max_workers=workers or settings.embedded_workers,
                                       thread_name_prefix="web4os-job")
        self._pending = 0
        self._cond = threading.Condition()
        self._timers: set[threading.Timer] = set()
        self._closed = False
        self.errors: list[BaseException] = []
        self._sweep_interval = sweep_interval
        self._sweeper: threading.Thread | None = None
        self._stop = threading.Event()

    @classmethod
    def shared(cls) -> EmbeddedRunner:
        """The process-wide runner used when dispatch is ``embedded``."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls(sweep_interval=get_settings().sweep_interval_seconds)
                cls._shared.start_sweeper()
            return cls._shared

    @classmethod
    def current(cls) -> EmbeddedRunner | None:
        """The process-wide runner if one was started (the health page must not start one)."""
        with cls._shared_lock:
            return cls._shared

    def status(self) -> dict[str, Any]:
        """Threads, jobs pending and whether the sweeper thread is alive (health page)."""
        return {"threads": self.pool._max_workers, "pending": self._pending,
                "waiting": self.backlog(),
                "sweeper_alive": bool(self._sweeper and self._sweeper.is_alive()),
                "closed": self._closed}

    def backlog(self) -> int:
        """Jobs submitted but not started yet (the sweeper holds re-sends while any wait)."""
        return self.pool._work_queue.qsize()

    def submit(self, name: str, kwargs: dict[str, Any], countdown: float = 0.0) -> None:
        if self._closed:
            return
        with self._cond:
            self._pending += 1
        if countdown > 0:
            timer = threading.Timer(countdown, self._start, args=(name, kwargs))
            timer.daemon = True
            self._timers.add(timer)
            timer.start()
        else:
            self._start(name, kwargs)

    def _start(self, name: str, kwargs: dict[str, Any]) -> None:
        try:
            self.pool.submit(self._run, name, kwargs)
        except RuntimeError:  # pool shut down
            self._done()

    def _run(self, name: str, kwargs: dict[str, Any]) -> None:
        from web4os.workers.jobs import run_job

        try:
            run_job(name, kwargs)
        except BaseException as exc:
            log.exception("job %s(%s) failed", name, kwargs)
            self.errors.append(exc)
        finally:
            self._done()

    def _done(self) -> None:
        with self._cond:
            self._pending -= 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no job is pending (tests, ``web4os demo``); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def start_sweeper(self) -> None:
        """Sweep once now (recover work from before a restart), then periodically."""
        if self._sweep_interval is None or self._sweeper is not None:
            return
        self._sweeper = threading.Thread(target=self._sweep_loop, daemon=True,
                                         name="web4os-sweeper")
        self._sweeper.start()

    def _sweep_loop(self) -> None:
        from web4os.workers.jobs import recover_after_restart, sweep

        try:
            recover_after_restart()
        except Exception:
            log.exception("start-up recovery failed")
        interval = self._sweep_interval or 5.0
        while not self._stop.is_set():
            try:
                sweep()
            except Exception:
                log.exception("sweep failed")
            self._stop.wait(interval)

    def shutdown(self, wait: bool = True) -> None:
        self._closed = True
        self._stop.set()
        for timer in list(self._timers):
            timer.cancel()
        self.pool.shutdown(wait=wait, cancel_futures=not wait)
        with EmbeddedRunner._shared_lock:
            if EmbeddedRunner._shared is self:
                EmbeddedRunner._shared = None

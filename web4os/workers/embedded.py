"""The in-process runner for the embedded default: threads inside ``web4os serve``.

It runs the very same job functions Celery runs; only the transport differs.
A periodic sweep finds work left behind by a restart, and checkpoints SQLite's log.

**Turns.** One job computes at a time; a job that waits on a model endpoint
(``web4os.turns.waiting``) hands the turn on and takes it back when the answer
is in, ahead of jobs not started yet. Why: the Python around a model call needs
the GIL, and SQLite lets one writer in at a time anyway, so two jobs computing at
once only take turns in slow motion: each statement hands the GIL to the other
thread and back, and a thread that wakes for a job meets the write lock. The waits still
overlap: a hundred cards wait on their models together. A job that computes for
longer than ``STALL_SECONDS`` without waiting (a tool blocked on something else)
does not hold the others up: past that, the next job starts beside it.

**Fair share.** Waiting jobs sit in one lane per account (``workers.lanes``): accounts
take turns by weight, each within its cap of running jobs, and within an account the
urgent and the goals under way go first.

**Waits cost no pool slot.** ``embedded_workers`` bounds the threads that compute or
wait for a job; a thread waiting on its model does not count against it, so a new one
starts for the next job. What bounds the waits is ``model_calls_in_flight``: past it, a
job waits for a call to come back before it sends its own. Threads beyond the pool's
size end after ``SPARE_SECONDS`` without work, so memory follows the load.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from web4os import turns
from web4os.config import get_settings
from web4os.queue import lane_of
from web4os.turns import STALL_SECONDS
from web4os.workers.lanes import FairLanes, Job, share_for

SPARE_SECONDS = 30.0  # a thread beyond the pool's size ends after this long without work

log = logging.getLogger("web4os.embedded")


class EmbeddedRunner:
    """Job threads that take turns, with delayed submits and a sweeper."""

    _shared: EmbeddedRunner | None = None
    _shared_lock = threading.Lock()

    def __init__(self, workers: int | None = None, *, sweep_interval: float | None = None) -> None:
        self.max_threads = workers or get_settings().embedded_workers
        self.max_model_waits = get_settings().model_calls_in_flight
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # idle threads wait for a job here
        self._turn = threading.Condition(self._lock)  # threads back from a wait, for a turn
        self._idle_cond = threading.Condition(self._lock)  # wait_idle
        self._slot = threading.Condition(self._lock)  # jobs waiting to call their model
        self._jobs = FairLanes()
        self._threads: list[threading.Thread] = []
        self._model_waits = 0  # threads inside a model call (not counted against the pool)
        self.peak_model_waits = 0
        self._idle = 0  # threads waiting for a job
        self._busy = 0  # threads computing now (one, or more past a stall)
        self._since = 0.0  # when the latest turn began (time.monotonic())
        self._returning = 0  # threads back from a wait, waiting for a turn
        self._watching = False  # an idle thread waits with a timeout, to catch a stall
        self._pending = 0  # submitted (timers included) and not finished
        self._timers: set[threading.Timer] = set()
        self._closed = False
        self.errors: list[BaseException] = []
        self._sweep_interval = sweep_interval
        self._sweeper: threading.Thread | None = None
        self._stop = threading.Event()

    @classmethod
    def shared(cls) -> EmbeddedRunner:
        """The process-wide runner used when dispatch is ``embedded`` (its sweeper is
        started once it is the installed queue: ``workers.install_queue``)."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls(sweep_interval=get_settings().sweep_interval_seconds)
            return cls._shared

    @classmethod
    def current(cls) -> EmbeddedRunner | None:
        """The process-wide runner if one was started (the health page must not start one)."""
        with cls._shared_lock:
            return cls._shared

    def status(self) -> dict[str, Any]:
        """Threads, jobs pending and whether the sweeper thread is alive (health page)."""
        with self._lock:
            pending, waiting, closed = self._pending, len(self._jobs), self._closed
        return {"threads": self.max_threads, "pending": pending, "waiting": waiting,
                "model_waits": self._model_waits,
                "sweeper_alive": bool(self._sweeper and self._sweeper.is_alive()),
                "closed": closed}

    def backlog(self) -> int:
        """Jobs submitted but not started yet (the sweeper holds re-sends while any wait)."""
        with self._lock:
            return len(self._jobs)

    # --- submitting -------------------------------------------------------------

    def submit(self, name: str, kwargs: dict[str, Any], countdown: float = 0.0) -> None:
        with self._lock:
            if self._closed:
                return
            self._pending += 1
        if countdown > 0:
            timer = threading.Timer(countdown, self._push, args=(name, kwargs))
            timer.args = (name, kwargs, timer)
            timer.daemon = True
            with self._lock:
                self._timers.add(timer)
            timer.start()
        else:
            self._push(name, kwargs)

    def _push(self, name: str, kwargs: dict[str, Any],
              timer: threading.Timer | None = None) -> None:
        account, _ = lane_of(kwargs)
        cap, weight = share_for(account)  # outside the lock: it may read the database
        with self._lock:
            if timer is not None:
                if timer not in self._timers:
                    return  # cancelled at shutdown, and counted then
                self._timers.discard(timer)
            if self._closed:
                self._finished()
                return
            _, rank = lane_of(kwargs)
            self._jobs.push(account, rank, (name, kwargs), cap=cap, weight=weight)
            if not self._jobs.ready():
                return  # its account is at its cap: a job of its ending starts it
            if self._turn_free() and not self._returning:
                self._wake()  # nobody computes: start it now
            elif not self._watching:
                self._wake()  # the job that computes starts it when it is done or waits

    # --- the threads ------------------------------------------------------------
    # Every method below whose name starts with an underscore runs with the lock held.

    def _turn_free(self) -> bool:
        return self._busy == 0 or time.monotonic() - self._since > STALL_SECONDS

    def _take_turn(self) -> None:
        self._busy += 1
        self._since = time.monotonic()

    def _give_turn(self) -> None:
        self._busy -= 1
        if self._returning:
            self._turn.notify()  # a job back from its model goes first
        elif self._jobs.ready():
            self._wake()

    def _wake(self) -> None:
        """Get a thread to look at the queue: an idle one, else a new one (up to the pool's
        size, not counting the threads that wait on a model)."""
        if self._idle:
            self._work.notify()
        elif len(self._threads) - self._model_waits < self.max_threads:
            thread = threading.Thread(target=self._worker, daemon=True,
                                      name=f"web4os-job-{len(self._threads) + 1}")
            try:
                thread.start()
            except RuntimeError:  # no thread to be had now: a running job takes it later
                log.warning("could not start a job thread; %d running", len(self._threads))
                return
            self._threads.append(thread)

    def _finished(self) -> None:
        self._pending -= 1
        if self._pending <= 0:
            self._idle_cond.notify_all()

    def _worker(self) -> None:
        turns.install(self._waiting)
        with self._lock:
            while True:
                if self._turn_free() and not self._returning and (job := self._jobs.pop()):
                    self._take_turn()
                    if self._jobs.ready() and not self._watching:
                        self._wake()  # the jobs left behind need a thread watching for a stall
                    self._lock.release()
                    try:
                        self._run(*job)
                    finally:
                        self._lock.acquire()
                        self._busy -= 1
                        self._finished()
                        if self._returning:
                            self._turn.notify()
                        if self._jobs.ready():
                            self._wake()  # its account may have been at its cap
                        if self._closed and not self._jobs:
                            self._work.notify_all()  # idle threads: time to stop
                    continue
                if self._closed and not self._jobs:
                    return
                if not self._idle_wait():
                    self._threads.remove(threading.current_thread())
                    return

    def _idle_wait(self) -> bool:
        """Wait for work; False when this thread is spare (beyond the pool) and had none."""
        watch = self._jobs.ready() and not self._watching
        self._watching = self._watching or watch
        spare = len(self._threads) - self._model_waits > self.max_threads
        self._idle += 1
        woken = self._work.wait(STALL_SECONDS if watch else SPARE_SECONDS if spare else None)
        self._idle -= 1
        if watch:
            self._watching = False
        return woken or watch or not spare or self._jobs.ready()

    def _run(self, account: int, job: Job) -> None:
        try:
            self._run_job(*job)
        finally:
            with self._lock:
                self._jobs.done(account)

    @contextlib.contextmanager
    def _waiting(self) -> Iterator[None]:
        """The handler behind ``turns.waiting()`` on this runner's threads: the turn goes
        to the next job, and so does this thread's place in the pool."""
        with self._lock:
            self._give_turn()
            while self._model_waits >= self.max_model_waits:
                self._slot.wait()
            self._model_waits += 1
            self.peak_model_waits = max(self.peak_model_waits, self._model_waits)
            if self._jobs.ready() and not self._idle:
                self._wake()  # the pool has room again: a job waiting may start
        try:
            yield
        finally:
            with self._lock:
                self._model_waits -= 1
                self._slot.notify()
                self._returning += 1
                while not self._turn_free():
                    self._turn.wait(STALL_SECONDS)
                self._returning -= 1
                self._take_turn()

    def _run_job(self, name: str, kwargs: dict[str, Any]) -> None:
        from web4os.workers.registry import run_job

        try:
            run_job(name, kwargs)
        except BaseException as exc:
            log.exception("job %s(%s) failed", name, kwargs)
            with self._lock:
                self.errors = [*self.errors[-99:], exc]  # the last hundred (tests read them)

    # --- waiting, sweeping, stopping ----------------------------------------------

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no job is pending (tests, ``web4os demo``); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle_cond.wait(left)
        return True

    def start_sweeper(self) -> None:
        """Sweep once now (recover work from before a restart), then periodically."""
        if self._sweep_interval is None or self._sweeper is not None:
            return
        self._sweeper = threading.Thread(target=self._sweep_loop, daemon=True,
                                         name="web4os-sweeper")
        self._sweeper.start()

    def _sweep_loop(self) -> None:
        from web4os.db import checkpoint
        from web4os.goals.recovery import recover_after_restart
        from web4os.workers.periodic import run_periodic

        try:
            recover_after_restart()
        except Exception:
            log.exception("start-up recovery failed")
        interval = self._sweep_interval or 5.0
        while not self._stop.is_set():
            run_periodic()
            try:
                checkpoint()
            except Exception:
                log.exception("checkpoint failed")
            self._stop.wait(interval)

    def takes_handoffs(self) -> bool:
        """A job may keep its next card only while the runner is open and no job waits,
        neither a new one nor one back from its model (``queue.handoff``)."""
        with self._lock:
            return not self._closed and not self._jobs.ready() and not self._returning

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking jobs; ``wait``: finish the queued ones first, else drop them.
        Delayed jobs not due yet are dropped either way (the sweeper finds their work)."""
        self._stop.set()
        with self._lock:
            self._closed = True
            for timer in self._timers:
                timer.cancel()
                self._finished()
            self._timers.clear()
            if not wait:
                for _ in range(self._jobs.clear()):
                    self._finished()
            self._work.notify_all()
            self._turn.notify_all()
        joined: set[threading.Thread] = {threading.current_thread()}
        while wait:  # a job still running may start a thread for the queue: join it too
            with self._lock:
                threads = [t for t in self._threads if t not in joined]
            if not threads:
                break
            for thread in threads:
                thread.join()
                joined.add(thread)
        with EmbeddedRunner._shared_lock:
            if EmbeddedRunner._shared is self:
                EmbeddedRunner._shared = None


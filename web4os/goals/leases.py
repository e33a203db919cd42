"""A running card's lease, renewed while its model calls run: a worker that dies
stops renewing, and the sweeper retries the card once the lease lapses."""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, update

from web4os.config import get_settings
from web4os.db import table_of, utcnow
from web4os.goals.models import Task, TaskStatus
from web4os.tenancy import in_account, tenant_session

if TYPE_CHECKING:
    from web4os.goals.execution import Claim

log = logging.getLogger("web4os.jobs")



@dataclass
class _Run:
    """One attempt this process is running, as the lease heartbeat sees it."""

    task_id: int
    token: str
    account_id: int
    started: float  # time.monotonic()


class LeaseHeartbeat:
    """Renews the leases of every card this process is running: one thread per process.

    A run registers for as long as its model calls take (``hold``); every third of a
    lease the thread renews all of them, one ``UPDATE`` per account. Past the run time
    limit (``task_soft_time_limit``, whatever the pool) a run is no longer renewed: its
    lease lapses and the sweeper retries the card. One thread, not one per run: with a
    fast model, starting a thread costs more than the rest of the run's bookkeeping.
    """

    def __init__(self) -> None:
        self._runs: dict[int, _Run] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._tick = threading.Event()  # never set: its wait() is the loop's sleep

    def after_fork(self) -> None:
        """In a forked child: none of the parent's runs, its lock or its thread."""
        self._runs, self._lock, self._thread = {}, threading.Lock(), None

    @contextlib.contextmanager
    def hold(self, claim: Claim, account_id: int) -> Iterator[None]:
        """Keep ``claim``'s lease alive while the block runs."""
        run = _Run(claim.task_id, claim.token, account_id, time.monotonic())
        with self._lock:
            self._runs[id(run)] = run
            if self._thread is None or not self._thread.is_alive():
                self._start()
        try:
            yield
        finally:
            with self._lock:
                self._runs.pop(id(run), None)

    def _start(self) -> None:
        """Start (or restart) the thread; the caller holds the lock."""
        self._thread = threading.Thread(target=self._loop, daemon=True, name="web4os-leases")
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                self._tick.wait(get_settings().task_lease_seconds / 3)
                self.beat()
            except Exception:  # a missed beat only shortens the leases
                log.exception("lease heartbeat failed")

    def beat(self) -> None:
        """Renew every run's lease now; drop the runs past the time limit."""
        settings = get_settings()
        lease, limit = settings.task_lease_seconds, settings.task_soft_time_limit
        now = time.monotonic()
        by_account: dict[int, list[_Run]] = {}
        with self._lock:
            for key, run in list(self._runs.items()):
                if now - run.started > limit:
                    log.warning("task %s ran past %s s; its lease lapses and it is retried",
                                run.task_id, limit)
                    del self._runs[key]
                else:
                    by_account.setdefault(run.account_id, []).append(run)
        until = utcnow() + timedelta(seconds=lease)
        for account_id, runs in by_account.items():
            try:  # one account's failure does not cost the others their renewal
                with tenant_session(account_id) as s:
                    s.execute(_renew_stmt(), [{"tenant": account_id, "task_id": r.task_id,
                                               "token": r.token, "until": until}
                                              for r in runs])
            except Exception:
                log.exception("lease renewal failed for account %s", account_id)

    def running(self) -> int:
        """How many runs are held (tests)."""
        with self._lock:
            return len(self._runs)


@functools.cache
def _renew_stmt() -> Any:
    tasks = table_of(Task)
    t = tasks.c
    return (update(tasks).where(in_account(tasks), t.id == bindparam("task_id"),
                                t.claim_token == bindparam("token"),
                                t.status == TaskStatus.RUNNING)
            .values(lease_expires_at=bindparam("until")))

LEASES = LeaseHeartbeat()

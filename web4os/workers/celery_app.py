"""The Celery app: production dispatch on a broker (Redis), state in the database.

Every Celery task is a thin entry point into the same job functions the
embedded runner uses. Tasks are acknowledged late (after they finish), so a
worker killed mid-task leaves its message to be redelivered; the jobs are
idempotent and the lease sweeper catches anything the broker lost (a card a job
had handed to itself, ``queue``, comes back when its lease lapses).

Workers run their jobs as greenlets (Celery's gevent pool; ``web4os worker --pool
threads`` keeps one thread per job instead): a job waiting on its model, the database or
Redis yields to the others, so ``worker_concurrency`` jobs wait at once on a few
native threads. Its jobs take turns computing (``web4os.turns.Turn``). A run is bounded
by its lease: it stops renewing the lease after ``task_soft_time_limit`` seconds, the
sweeper requeues the task, and the late result is discarded when it finally arrives
(the threads pool enforces no time limit; the gevent pool also ends a job at
``task_time_limit``, a minute later).

There is no celery beat: each worker's housekeeping thread (``liveness.py``)
writes its heartbeat and takes a Redis lock before sweeping, so however many
workers run, about one sweep happens per ``sweep_interval_seconds``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
from celery import Celery, signals

from web4os.config import get_settings
from web4os.goals.jobs import CROSS_ACCOUNT, JOBS
from web4os.green import is_green
from web4os.queue import lane_of
from web4os.turns import Turn
from web4os.workers.dispatch import SLOT, RedisLanes
from web4os.workers.lanes import share_for

log = logging.getLogger("web4os.celery")



def make_celery(broker_url: str | None = None) -> Celery:
    """The app for ``broker_url`` (default: settings); producers may build their own."""
    settings = get_settings()
    app = Celery("web4os", broker=broker_url or settings.broker_url,
                 backend=settings.result_backend or None)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # Concurrency x 1 messages in hand: enough to keep every job slot busy, and fair
        # between workers when model calls are slow.
        worker_prefetch_multiplier=1,
        # The lease bounds a run first (see above).
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_soft_time_limit + 60,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        # A message a dead worker held comes back after this; the sweeper is faster.
        broker_transport_options={"visibility_timeout": settings.task_lease_seconds * 3},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return app


celery = make_celery()
TURN = Turn()
_shutting_down = threading.Event()

_housekeeper: Any = None
_sweeper_wanted: bool | None = None  # set by ``run_worker``; else from settings


@signals.worker_process_init.connect  # type: ignore[untyped-decorator]
def _fresh_connections(**_: Any) -> None:
    """Forked worker processes (prefork pool) must not share the parent's connections."""
    from web4os.db import dispose_engines

    dispose_engines()


@signals.worker_init.connect  # type: ignore[untyped-decorator]
def _install_queue(**_: Any) -> None:
    """Jobs a worker enqueues go back to Celery, whatever ``WEB4OS_DISPATCH`` says."""
    from web4os.queue import set_queue

    set_queue(CeleryQueue())


@signals.worker_ready.connect  # type: ignore[untyped-decorator]
def _start_housekeeping(sender: Any = None, **_: Any) -> None:
    global _housekeeper
    from web4os.workers.liveness import Housekeeper

    settings = get_settings()
    sweeper = settings.worker_sweeper if _sweeper_wanted is None else _sweeper_wanted
    hostname = getattr(sender, "hostname", "") or ""
    concurrency = int(getattr(getattr(sender, "controller", None), "concurrency", 0) or 0)
    _housekeeper = Housekeeper(hostname, concurrency, sweeper=sweeper)
    _housekeeper.start()
    from web4os.gc_freeze import freeze_startup_objects

    freeze_startup_objects()
    log.info("web4os worker %s ready (sweeper %s)", _housekeeper.hostname,
             "on" if sweeper else "off")


@signals.worker_shutting_down.connect  # type: ignore[untyped-decorator]
def _no_more_handoffs(**_: Any) -> None:
    """A warm shutdown waits for running jobs: from now on they hand no card to
    themselves, so the wait is one card long, not a chain."""
    _shutting_down.set()


@signals.worker_shutdown.connect  # type: ignore[untyped-decorator]
def _stop_housekeeping(**_: Any) -> None:
    if _housekeeper is not None:
        _housekeeper.stop()


@signals.task_prerun.connect  # type: ignore[untyped-decorator]
def _task_started(**_: Any) -> None:
    if _housekeeper is not None:
        _housekeeper.task_started()


@signals.task_postrun.connect  # type: ignore[untyped-decorator]
def _task_finished(**_: Any) -> None:
    if _housekeeper is not None:
        _housekeeper.task_finished()


def _register(name: str) -> None:
    @celery.task(  # type: ignore[untyped-decorator]
        name=f"web4os.{name}", bind=True, acks_late=True, max_retries=5
    )
    def entry(self: Any, **kwargs: Any) -> None:
        from web4os.workers.registry import run_job

        if name not in CROSS_ACCOUNT and not kwargs.get("account_id"):
            raise ValueError(f"{name} refused: no account_id (fail closed, no default tenant)")
        slot = kwargs.pop(SLOT, None)
        try:
            with TURN.held():  # one job of this process computes at a time (web4os.turns)
                run_job(name, kwargs)
        except Exception as exc:  # database hiccups: retry with backoff, never lose the job
            raise self.retry(exc=exc, countdown=min(60, 2 ** self.request.retries),
                             kwargs=kwargs) from exc
        finally:
            if slot is not None:
                _free_slot(kwargs, slot)


for _name in JOBS:
    _register(_name)


def _free_slot(kwargs: dict[str, Any], slot: str) -> None:
    """The job's account has one job fewer in flight: release its next (``dispatch``)."""
    from web4os.queue import get_queue

    queue = get_queue()
    if isinstance(queue, CeleryQueue):
        try:
            queue.lanes().finish(int(kwargs.get("account_id") or 0), slot)
        except redis.RedisError:  # the slot times out instead
            log.exception("could not free a slot of account %s", kwargs.get("account_id"))


class CeleryQueue:
    """``JobQueue`` that sends jobs to Celery by name (to ``app``'s broker)."""

    def __init__(self, app: Celery | None = None) -> None:
        self.app = app or celery
        self._redis: redis.Redis | None = None  # the broker's client, made on first use
        self._lanes: RedisLanes | None = None

    def submit(self, name: str, kwargs: dict[str, Any], countdown: float = 0.0) -> None:
        """Now: through the account's lane (``dispatch``); later: straight to the broker."""
        if countdown > 0 or self._broker() is None:
            self._send(name, kwargs, countdown)
            return
        account, rank = lane_of(kwargs)
        cap, weight = share_for(account)
        self.lanes().push(account, rank, name, kwargs, cap=cap, weight=weight)

    def _send(self, name: str, kwargs: dict[str, Any], countdown: float = 0.0) -> None:
        self.app.send_task(f"web4os.{name}", kwargs=kwargs,
                           countdown=countdown if countdown > 0 else None)

    def lanes(self) -> RedisLanes:
        """The per-account lanes in the broker's Redis (made once)."""
        if self._lanes is None:
            broker = self._broker()
            assert broker is not None, "lanes need a Redis broker"
            settings = get_settings()
            self._lanes = RedisLanes(broker, self._send,
                                     slot_seconds=settings.task_soft_time_limit + 60,
                                     total=settings.dispatch_in_flight)
        return self._lanes

    def takes_handoffs(self) -> bool:
        """A job may keep its next card only while no message waits in the broker's
        queue (every job slot of every worker is busy: a chain would hold a slot that
        waiting work needs) and this worker is not shutting down
        (``queue.handoff``), and no job of this process waits for its turn: a chain
        holds the turn from card to card, so a job waiting for it would start only past
        ``STALL_SECONDS``. One ``LLEN``."""
        if _shutting_down.is_set() or TURN.waiters:
            return False  # a job of this process waits for the turn the chain would keep
        from web4os.workers.liveness import QUEUE_NAME

        broker = self._broker()
        if broker is None:
            return True
        try:
            return not int(broker.llen(QUEUE_NAME))
        except redis.RedisError:  # the broker is unreachable: the card goes the usual way
            return False

    def backlog(self) -> int | None:
        """Messages waiting in the broker (None for brokers other than Redis)."""
        from web4os.workers.liveness import queue_depth

        broker = self._broker()
        if broker is None:
            return None
        return queue_depth(broker)[0] + self.lanes().waiting()

    def _broker(self) -> redis.Redis | None:
        """A client of the broker, made once (None for brokers other than Redis)."""
        from web4os.workers.liveness import is_redis_url, redis_client

        url = str(self.app.conf.broker_url)
        if not is_redis_url(url):
            return None
        if self._redis is None:
            self._redis = redis_client(url)
        return self._redis


def run_worker(*, concurrency: int | None = None, sweeper: bool = True,
               hostname: str | None = None, pool: str = "gevent") -> int:
    """``web4os worker``: ``concurrency`` jobs at once, as greenlets (``pool`` gevent: the
    caller patched the standard library, ``web4os.green``) or threads, with the sweeper."""
    global _sweeper_wanted
    settings = get_settings()
    _sweeper_wanted = sweeper and settings.worker_sweeper
    if pool == "gevent" and not is_green():
        raise RuntimeError("the gevent pool needs web4os.green.patch() before other imports")
    argv = ["worker", "--loglevel=INFO", f"--pool={pool}", "--without-mingle",
            "--without-gossip", f"--concurrency={concurrency or settings.worker_concurrency}"]
    if hostname:
        argv.append(f"--hostname={hostname}")
    celery.worker_main(argv)
    return 0

"""Worker liveness on the broker's Redis: heartbeats, a shared sweep lock, queue depth.

Each Celery worker runs one housekeeping thread. It writes a heartbeat key
(``web4os:worker:<hostname>``, with a TTL, so a dead worker simply disappears)
and, if it wins a short Redis lock, runs the sweeper. Any number of workers may
run the sweeper; the lock makes that about one sweep per interval in the whole
cluster (a second concurrent sweep would be harmless: every job is idempotent).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import redis

from web4os.config import get_settings

log = logging.getLogger("web4os.liveness")

HEARTBEAT_PREFIX = "web4os:worker:"
SWEEP_LOCK = "web4os:sweep-lock"
QUEUE_NAME = "celery"  # Celery's default queue; every web4os job goes there
UNACKED = "unacked"  # kombu's Redis hash of delivered, not yet acknowledged messages


def is_redis_url(url: str) -> bool:
    return url.startswith(("redis://", "rediss://", "unix://"))


@lru_cache(maxsize=8)
def redis_client(url: str) -> redis.Redis:
    """A Redis client for ``url`` with short timeouts (health checks must not hang)."""
    return redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3,
                                health_check_interval=30)


@dataclass(frozen=True)
class WorkerBeat:
    """One worker's last heartbeat."""

    hostname: str
    pid: int
    concurrency: int
    running: int
    started_at: float
    beat_at: float
    sweeper: bool

    @property
    def age_seconds(self) -> float:
        return max(0.0, time.time() - self.beat_at)


def heartbeat_ttl() -> int:
    """Seconds a heartbeat stays visible: three missed beats and the worker is gone."""
    return max(3, int(get_settings().worker_heartbeat_seconds * 3 + 1))


def write_heartbeat(client: redis.Redis, beat: WorkerBeat) -> None:
    client.set(HEARTBEAT_PREFIX + beat.hostname, json.dumps(beat.__dict__), ex=heartbeat_ttl())


def read_heartbeats(client: redis.Redis) -> list[WorkerBeat]:
    """Every live worker's heartbeat, by hostname."""
    keys = sorted(client.scan_iter(match=HEARTBEAT_PREFIX + "*", count=200))
    beats = []
    for raw in client.mget(keys) if keys else []:
        if raw is None:
            continue  # expired between SCAN and MGET
        try:
            beats.append(WorkerBeat(**json.loads(raw)))
        except (TypeError, ValueError):
            log.warning("ignoring a malformed heartbeat: %r", raw[:200])
    return beats


def queue_depth(client: redis.Redis) -> tuple[int, int]:
    """(waiting, reserved): messages in the queue, and delivered to a worker but not acked.

    kombu keeps one list per priority step (``celery``, ``celery\\x06\\x163``…) and the
    messages workers hold (running, prefetched or waiting for a countdown) in a hash.
    """
    waiting = 0
    for key in client.scan_iter(match=QUEUE_NAME + "*", count=200, _type="list"):
        waiting += int(client.llen(key))
    return waiting, int(client.hlen(UNACKED))


def try_sweep_lock(client: redis.Redis, owner: str, seconds: float) -> bool:
    """Take the cluster-wide sweep turn for ``seconds`` (True if this worker got it)."""
    return bool(client.set(SWEEP_LOCK, owner, nx=True, px=max(100, int(seconds * 1000))))


class Housekeeper:
    """The worker's background thread: heartbeat every few seconds, sweep when it's our turn."""

    def __init__(self, hostname: str, concurrency: int, *, sweeper: bool) -> None:
        settings = get_settings()
        self.hostname = hostname or f"web4os@{socket.gethostname()}"
        self.concurrency, self.sweeper = concurrency, sweeper
        self.client = redis_client(settings.broker_url)
        self.started_at = time.time()
        self._running = 0
        self._count_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="web4os-housekeeper")

    def task_started(self) -> None:
        with self._count_lock:
            self._running += 1

    def task_finished(self) -> None:
        with self._count_lock:
            self._running = max(0, self._running - 1)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop and remove the heartbeat at once (a clean shutdown is not a dead worker)."""
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(redis.RedisError):
            self.client.delete(HEARTBEAT_PREFIX + self.hostname)

    def beat(self) -> None:
        write_heartbeat(self.client, WorkerBeat(
            hostname=self.hostname, pid=os.getpid(), concurrency=self.concurrency,
            running=self._running, started_at=self.started_at, beat_at=time.time(),
            sweeper=self.sweeper))

    def _loop(self) -> None:
        settings = get_settings()
        beat_every, sweep_every = settings.worker_heartbeat_seconds, settings.sweep_interval_seconds
        next_beat = next_sweep = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_beat:
                next_beat = now + beat_every
                self._safely(self.beat, "heartbeat")
            if self.sweeper and now >= next_sweep:
                next_sweep = now + sweep_every
                self._safely(lambda: self._sweep(sweep_every), "sweep")
            self._stop.wait(max(0.05, min(next_beat, next_sweep if self.sweeper else next_beat)
                                - time.monotonic()))

    def _sweep(self, interval: float) -> None:
        if try_sweep_lock(self.client, self.hostname, interval * 0.9):
            from web4os.workers.periodic import run_periodic

            run_periodic()

    @staticmethod
    def _safely(fn: Any, what: str) -> None:
        try:
            fn()
        except Exception:  # Redis or the database is away: try again next tick
            log.exception("%s failed", what)

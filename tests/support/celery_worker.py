"""Start and stop real ``web4os worker`` (Celery) processes against Postgres and Redis.

Used by tests/celery/ and by the benchmarks (bench/parallel.py, bench/orchestration.py),
so it depends on nothing from pytest::

    stack = CeleryStack(database_url=PG, redis_url="redis://127.0.0.1:6379/5", data_dir=tmp)
    stack.prepare_database()              # empty schema + migrations (optional)
    with stack.worker(concurrency=16, env={"WEB4OS_OFFLINE_LATENCY_SECONDS": "1"}) as w:
        stack.queue().submit("advance_goal", {"goal_id": 1, "account_id": 1})
        wait_for(lambda: ..., timeout=60)

Each worker runs in its own process group; ``kill()`` SIGKILLs the whole group
(a crash), ``stop()`` asks for a warm shutdown first. A worker is ready when its
heartbeat key appears in Redis.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import redis

REPO = Path(__file__).resolve().parents[2]
_seq = itertools.count(1)

# Fast housekeeping so recovery takes seconds in tests, not minutes.
FAST_ENV = {
    "WEB4OS_WORKER_HEARTBEAT_SECONDS": "0.5",
    "WEB4OS_SWEEP_INTERVAL_SECONDS": "1",
    "WEB4OS_TASK_LEASE_SECONDS": "5",
}


def reachable(database_url: str, redis_url: str) -> str:
    """'' if Postgres and Redis both answer, else what is missing."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(database_url)
    admin = u.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    try:
        psycopg.connect(admin, connect_timeout=3).close()
    except Exception as exc:
        return f"PostgreSQL is not reachable ({type(exc).__name__})"
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as exc:
        return f"Redis is not reachable ({type(exc).__name__})"
    return ""


def reset_postgres(url: str) -> None:
    """Create the database if needed, empty its schema and run the migrations."""
    import psycopg
    from sqlalchemy.engine import make_url

    from web4os.migrate import upgrade

    u = make_url(url)
    admin = u.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (u.database,)).fetchone():
            conn.execute(f'CREATE DATABASE "{u.database}"')
    target = u.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    upgrade(url)


def drop_database(url: str) -> None:
    """Drop a database this run made for itself (its open connections are closed first)."""
    import psycopg
    from sqlalchemy.engine import make_url

    from web4os.db import dispose_engines

    dispose_engines()
    u = make_url(url)
    admin = u.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')


def wait_for(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.2,
             what: str = "condition") -> Any:
    """Poll until ``predicate()`` is truthy; return its value or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class WorkerProcess:
    """One ``web4os worker`` subprocess."""

    proc: subprocess.Popen[bytes]
    hostname: str
    log_path: Path
    _log: IO[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and anything it started: a crash, no cleanup at all."""
        if self.alive():
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._log.close()

    def stop(self, timeout: float = 15.0) -> None:
        """Warm shutdown (SIGTERM: finish running tasks), then SIGKILL if it lingers."""
        if self.alive():
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class CeleryStack:
    """One Postgres database and one Redis db shared by a test's producer and its workers."""

    database_url: str
    redis_url: str
    data_dir: Path
    env: dict[str, str] = field(default_factory=lambda: dict(FAST_ENV))
    workers: list[WorkerProcess] = field(default_factory=list)
    # What starts a worker; the benchmarks use ``bench._worker`` (the same CLI plus
    # their latency-controlled model).
    command: list[str] = field(default_factory=lambda: [sys.executable, "-m", "web4os.cli"])

    def prepare_database(self) -> None:
        reset_postgres(self.database_url)

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)

    def flush_redis(self) -> None:
        self.redis().flushdb()

    def queue(self) -> Any:
        """A ``JobQueue`` that sends to this stack's Redis (whatever this process's settings)."""
        from web4os.workers.celery_app import CeleryQueue, make_celery

        return CeleryQueue(make_celery(self.redis_url))

    def worker_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("WEB4OS_OPENAI_", "WEB4OS_TEST_"))}
        env.update({
            "WEB4OS_DATABASE_URL": self.database_url,
            "WEB4OS_BROKER_URL": self.redis_url,
            "WEB4OS_DISPATCH": "celery",
            "WEB4OS_DATA_DIR": str(self.data_dir),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.env)
        env.update(extra or {})
        return env

    def start_worker(self, *, concurrency: int = 16, env: dict[str, str] | None = None,
                     sweeper: bool = True, ready_timeout: float = 60.0,
                     pool: str | None = None) -> WorkerProcess:
        """Start ``web4os worker`` (on its default pool unless ``pool``: gevent, threads)
        and wait for its first heartbeat."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        hostname = f"w{next(_seq)}-{uuid.uuid4().hex[:6]}@web4os-test"
        log_path = self.data_dir / f"{hostname.split('@')[0]}.log"
        log = log_path.open("wb")
        argv = [*self.command, "worker", f"--concurrency={concurrency}",
                f"--hostname={hostname}"]
        if not sweeper:
            argv.append("--no-sweep")
        if pool:
            argv.append(f"--pool={pool}")
        proc = subprocess.Popen(argv, env=self.worker_env(env), cwd=self.data_dir, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        worker = WorkerProcess(proc, hostname, log_path, log)
        self.workers.append(worker)
        from web4os.workers.liveness import HEARTBEAT_PREFIX

        client = self.redis()
        try:
            wait_for(lambda: not worker.alive() or client.exists(HEARTBEAT_PREFIX + hostname),
                     timeout=ready_timeout, what=f"worker {hostname} to send a heartbeat")
        except TimeoutError:
            worker.kill()
            raise RuntimeError(f"worker did not start:\n{worker.log_tail()}") from None
        if not worker.alive():
            raise RuntimeError(f"worker exited at start:\n{worker.log_tail()}")
        return worker

    @contextmanager
    def worker(self, **kwargs: Any) -> Iterator[WorkerProcess]:
        w = self.start_worker(**kwargs)
        try:
            yield w
        finally:
            w.kill()

    def kill_all(self) -> None:
        for w in self.workers:
            w.kill()
        self.workers.clear()

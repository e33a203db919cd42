"""Is web4os able to do work right now? Database, broker, workers, queue depth.

``collect()`` feeds ``GET /healthz`` (JSON for load balancers and docker) and the
admins' ``/health`` page. Every probe has a short timeout and never raises:
an unreachable service is a finding, not an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.engine import make_url

from web4os.config import Settings, get_settings
from web4os.workers.liveness import WorkerBeat

Status = Literal["ok", "degraded", "down"]


@dataclass(frozen=True)
class Probe:
    """One dependency's answer: reachable or not, how fast, and why not."""

    ok: bool
    latency_ms: int
    error: str = ""

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "latency_ms": self.latency_ms}
        if self.error:
            out["error"] = self.error.split(":", 1)[0]  # the kind, not hostnames or paths
        return out


def _probe(fn: Callable[[], None]) -> Probe:
    started = time.perf_counter()
    try:
        fn()
    except Exception as exc:
        return Probe(False, int((time.perf_counter() - started) * 1000),
                     f"{type(exc).__name__}: {str(exc)[:300]}")
    return Probe(True, int((time.perf_counter() - started) * 1000))


@dataclass
class HealthReport:
    """Everything the health page shows; ``status`` sums it up."""

    dispatch: str
    model: str
    database: Probe
    broker: Probe | None = None
    workers: list[WorkerBeat] = field(default_factory=list)
    queue_waiting: int | None = None
    queue_reserved: int | None = None
    embedded: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    status: Status = "ok"

    @property
    def http_status(self) -> int:
        """503 only when a dependency is down; a missing worker is degraded, not down."""
        return 503 if self.status == "down" else 200

    @property
    def last_heartbeat_age(self) -> float | None:
        return min((w.age_seconds for w in self.workers), default=None)

    def public(self) -> dict[str, Any]:
        """The JSON for ``/healthz``: no hostnames, URLs or error texts."""
        out: dict[str, Any] = {
            "status": self.status, "dispatch": self.dispatch, "model": self.model,
            "database": self.database.public(), "problems": self.problems,
        }
        if self.dispatch == "celery":
            age = self.last_heartbeat_age
            out["broker"] = self.broker.public() if self.broker else None
            out["workers"] = {
                "count": len(self.workers),
                "threads": sum(w.concurrency for w in self.workers),
                "running": sum(w.running for w in self.workers),
                "last_heartbeat_seconds_ago": None if age is None else round(age, 1),
            }
            out["queue"] = {"waiting": self.queue_waiting, "reserved": self.queue_reserved}
        else:
            out["embedded"] = self.embedded
        return out


def model_label(settings: Settings) -> str:
    if settings.offline_model:
        return "offline"
    host = make_url(settings.openai_base_url).host if "://" in settings.openai_base_url else ""
    return f"{settings.openai_model} via {host or 'api.openai.com'}"


def _ping_database() -> None:
    from web4os.db import get_engine

    with get_engine(immediate=False).connect() as conn:
        conn.execute(text("SELECT 1"))


def collect(settings: Settings | None = None) -> HealthReport:
    """Probe everything dispatch depends on, in this process's mode."""
    settings = settings or get_settings()
    report = HealthReport(dispatch=settings.dispatch, model=model_label(settings),
                          database=_probe(_ping_database))
    if not report.database.ok:
        report.problems.append("The database is unreachable.")
    if settings.dispatch == "celery":
        _collect_celery(report, settings)
    else:
        _collect_embedded(report)
    if not report.database.ok or (report.broker is not None and not report.broker.ok):
        report.status = "down"
    elif report.problems:
        report.status = "degraded"
    return report


def _collect_celery(report: HealthReport, settings: Settings) -> None:
    from web4os.workers.liveness import is_redis_url, queue_depth, read_heartbeats, redis_client

    if not is_redis_url(settings.broker_url):
        report.broker = Probe(False, 0, "UnsupportedBroker: health checks read Redis only")
        report.problems.append("The broker is not Redis; liveness cannot be read.")
        return
    client = redis_client(settings.broker_url)

    def ping() -> None:
        client.ping()

    report.broker = _probe(ping)
    if not report.broker.ok:
        report.problems.append("The broker (Redis) is unreachable.")
        return
    try:
        report.workers = read_heartbeats(client)
        report.queue_waiting, report.queue_reserved = queue_depth(client)
    except Exception as exc:
        report.problems.append(f"Could not read worker heartbeats: {type(exc).__name__}.")
        return
    if not report.workers:
        report.problems.append("No worker has sent a heartbeat: queued work is not running. "
                               "Start one with `web4os worker`.")
    elif not any(w.sweeper for w in report.workers):
        report.problems.append("No worker runs the sweeper: lost work is not re-sent.")


def _collect_embedded(report: HealthReport) -> None:
    from web4os.queue import installed_queue
    from web4os.workers.embedded import EmbeddedRunner

    queue = installed_queue()
    runner = queue if isinstance(queue, EmbeddedRunner) else EmbeddedRunner.current()
    if runner is None:
        report.embedded = None
        report.problems.append("No embedded worker runs in this process.")
        return
    report.embedded = runner.status()
    if report.embedded["closed"]:
        report.problems.append("The embedded worker has shut down.")

"""The Celery app: production dispatch on a broker (Redis), state in the database.

Every Celery task is a thin entry point into the same job functions the
embedded runner uses. Tasks are acknowledged late (after they finish), so a
worker killed mid-task leaves its message to be redelivered; the jobs are
idempotent and the lease sweeper catches anything the broker lost.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, signals

from web4os.config import get_settings


def make_celery() -> Celery:
    settings = get_settings()
    app = Celery("web4os", broker=settings.broker_url,
                 backend=settings.result_backend or None)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=4,
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_soft_time_limit + 60,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": settings.task_lease_seconds * 3},
        beat_schedule={
            "web4os-sweep": {"task": "web4os.sweep", "schedule": settings.sweep_interval_seconds},
        },
        worker_hijack_root_logger=False,
    )
    return app


celery = make_celery()


@signals.worker_process_init.connect  # type: ignore[untyped-decorator]
def _fresh_connections(**_: Any) -> None:
    """Forked worker processes must not share the parent's database connections."""
    from web4os.db import dispose_engines

    dispose_engines()


def _register(name: str) -> None:
    @celery.task(  # type: ignore[untyped-decorator]
        name=f"web4os.{name}", bind=True, acks_late=True, max_retries=5
    )
    def entry(self: Any, **kwargs: Any) -> None:
        from web4os.workers.jobs import run_job

        if name != "sweep" and not kwargs.get("account_id"):
            raise ValueError(f"{name} refused: no account_id (fail closed, no default tenant)")
        try:
            run_job(name, kwargs)
        except Exception as exc:  # database hiccups: retry with backoff, never lose the job
            raise self.retry(exc=exc, countdown=min(60, 2 ** self.request.retries)) from exc


for _name in ("plan_goal", "advance_goal", "run_task", "finish_goal", "recover_task",
              "resume_account", "sweep"):
    _register(_name)


class CeleryQueue:
    """``JobQueue`` that sends jobs to Celery by name."""

    def submit(self, name: str, kwargs: dict[str, Any], countdown: float = 0.0) -> None:
        celery.send_task(f"web4os.{name}", kwargs=kwargs,
                         countdown=countdown if countdown > 0 else None)


def run_worker(*, concurrency: int | None = None, beat: bool = True) -> int:
    """``web4os worker``: a threaded worker (model calls are I/O bound) with the sweeper."""
    settings = get_settings()
    argv = ["worker", "--loglevel=INFO", "--pool=threads",
            f"--concurrency={concurrency or settings.worker_concurrency}"]
    if beat:
        argv.append("--beat")
    celery.worker_main(argv)
    return 0

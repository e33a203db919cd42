"""Run a job by name: the one entry both runners (embedded and Celery) call."""

from __future__ import annotations

import logging
from typing import Any

from web4os.goals.jobs import CROSS_ACCOUNT, JOBS
from web4os.goals.scheduling import backoff
from web4os.queue import get_queue, handoff, job_kwargs

log = logging.getLogger("web4os.jobs")


def run_job(name: str, kwargs: dict[str, Any]) -> None:
    """Run a registered job by name, then the card it handed to itself, if any, and so
    on (``queue.handoff``).

    A handed-off card that fails goes to the queue as a job of its own, after a short
    wait, so the queue's retries apply to it; the job that handed it on has done its
    work.
    """
    if "account_id" not in kwargs and name not in CROSS_ACCOUNT:
        raise ValueError(f"Job {name} refused: no account_id (fail closed).")
    since: float | None = None  # when the chain of handed-off cards began
    kwargs = job_kwargs(kwargs)
    while True:
        try:
            with handoff(since) as slot:
                JOBS[name](**kwargs)
        except Exception:
            if since is None:
                raise
            log.exception("handed-off %s %s failed; sent to the queue", name, kwargs)
            get_queue().submit(name, kwargs, backoff(1))
            return
        if slot.job is None:
            return
        (name, kwargs), since = slot.job, slot.since
        kwargs = job_kwargs(kwargs)

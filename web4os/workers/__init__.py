"""Transport only: the job registry's runner, the embedded runner, the Celery app,
worker liveness and health. The goal's jobs live in ``goals``; this package carries them."""

from __future__ import annotations

from web4os.config import get_settings
from web4os.queue import JobQueue, set_queue


def install_queue(*, start_embedded: bool = True) -> JobQueue | None:
    """Install the process's job queue as the settings ask (start-up calls this once).

    Celery: send jobs to the broker. Embedded: run them in this process's runner, unless
    ``start_embedded`` is false (an app built for tests, whose queue the test installs).
    """
    if get_settings().dispatch == "celery":
        from web4os.workers.celery_app import CeleryQueue

        celery = CeleryQueue()
        set_queue(celery)
        return celery
    if not start_embedded:
        return None
    from web4os.workers.embedded import EmbeddedRunner

    runner = EmbeddedRunner.shared()
    set_queue(runner)
    runner.start_sweeper()  # after it is installed: start-up recovery sends jobs through it
    return runner

"""The periodic steps both runners take each sweep interval, in one list.

The embedded runner's sweeper thread and the Celery workers' housekeeping thread (one
at a time, under a Redis lock) call ``run_periodic``. Each step is idempotent and safe
to run from several processes at once (each claims its rows with a guarded update), so
a missed or doubled turn only delays or repeats a no-op. One failing step does not stop
the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from web4os.accountdata.retention import housekeeping
from web4os.goals.recovery import sweep
from web4os.notifications.mailing import flush_mails
from web4os.routines.outcomes import report_failed_goals
from web4os.routines.scheduler import fire_due
from web4os.webhooks.pruning import prune_step
from web4os.webhooks.sender import send_due

log = logging.getLogger("web4os.periodic")

STEPS: tuple[tuple[str, Callable[[], Any]], ...] = (
    ("sweep", sweep),  # lost, stalled and budget-paused work
    ("account data", housekeeping),  # deletion after the grace period, retention
    ("webhooks", send_due),  # deliveries whose retry is due
    ("webhook log", prune_step),  # finished deliveries past the log's 30 days, hourly
    ("notification mail", flush_mails),  # digests whose window is over, lost sends
    ("routines", fire_due),  # due routines, each due time claimed once (routines.scheduler)
    ("routine results", report_failed_goals),  # a routine's goal that failed: routine.failed
)


def run_periodic() -> None:
    for name, step in STEPS:
        try:
            step()
        except Exception:
            log.exception("periodic step %s failed", name)

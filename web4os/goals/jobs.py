"""The goal's jobs by name: what the runners (embedded or Celery) may be asked to run.

Each is a thin, idempotent entry point that takes ids and a required ``account_id``
(the sweeper alone works across accounts); ``workers`` only carries them.
"""

from __future__ import annotations

from collections.abc import Callable

from web4os.goals import execution, planning, recovery, replanning, scheduling
from web4os.notifications import mailing

JOBS: dict[str, Callable[..., None]] = {
    "plan_goal": planning.plan_goal,
    "advance_goal": scheduling.advance_goal,
    "run_task": execution.run_task,
    "finish_goal": planning.finish_goal,
    "recover_task": recovery.recover_task,
    "resume_account": recovery.resume_account,
    "replan_goal": replanning.replan_goal,
    "sweep": recovery.sweep,
    mailing.SEND_JOB: mailing.send_mails,
}
CROSS_ACCOUNT = frozenset({"sweep"})  # the only job that names no account

"""Telling the operator when a routine's run went wrong: ``routine.failed``.

A run that cannot start is reported where it is recorded (``service.run_could_not_start``).
A run whose goal later fails is found by a periodic step (``report_failed_goals``): the
goals domain does not know routines, so the routine looks at its own runs' goals. Each
report has a ``once_key`` per run, so a sweep that looks twice reports once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from web4os.db import utcnow
from web4os.goals.models import Goal, GoalStatus
from web4os.notifications.events import Event
from web4os.notifications.service import notify
from web4os.routines.models import Routine, RoutineRun, RunOutcome
from web4os.tenancy import AccountId, system_session, tenant_session

LOOK_BACK = timedelta(hours=1)  # goals that failed this recently are checked each sweep


def could_not_start(session: Session, routine: Routine, run: RoutineRun) -> None:
    notify(session, AccountId(routine.account_id), Event.ROUTINE_FAILED,
           title=f"Routine “{routine.title}” did not start", body=run.message,
           link=f"/routines/{routine.id}", once_key=f"routine_run:{run.id}:not_started")


def report_failed_goals(now: datetime | None = None) -> int:
    """Report each routine run whose goal failed recently (once per run)."""
    since = (now or utcnow()) - LOOK_BACK
    with system_session() as s:
        rows = s.execute(
            select(RoutineRun.id, RoutineRun.account_id, Routine.title, Goal.id,
                   Goal.status_reason)
            .join(Routine, Routine.id == RoutineRun.routine_id)
            .join(Goal, Goal.id == RoutineRun.goal_id)
            .where(RoutineRun.outcome == RunOutcome.STARTED, Goal.status == GoalStatus.FAILED,
                   Goal.updated_at >= since)).all()
    told = 0
    for run_id, account_id, title, goal_id, reason in rows:
        with tenant_session(account_id) as s:
            told += notify(s, AccountId(account_id), Event.ROUTINE_FAILED,
                           title=f"Routine “{title}”: its goal failed", body=reason or "",
                           link=f"/goals/{goal_id}", goal_id=goal_id,
                           once_key=f"routine_run:{run_id}:goal_failed")
    return told

"""Fire due routines exactly once, from any number of processes.

Every process that sweeps calls ``fire_due`` (the embedded runner's sweeper thread, each
Celery worker's housekeeping thread); there is no scheduler process of its own. A due
time is *claimed* by a guarded ``UPDATE routines SET next_run_at = :new WHERE id = :id
AND next_run_at = :old`` in the same transaction that creates the run's goal: of any
number of processes that saw the same due time, exactly one updates the row (on
Postgres the others wait for its row lock, then find ``next_run_at`` moved and update
nothing), and if its transaction fails the claim rolls back with the goal, so the due
time stays due. While every process is down ``next_run_at`` simply stays in the past;
the first sweep after they return applies the routine's missed-runs policy. A clock
that jumps back finds nothing due; one that jumps forward finds missed runs.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from web4os.db import utcnow
from web4os.routines import schedule, service
from web4os.routines.models import MissedPolicy, OverlapPolicy, Routine, RoutineStatus
from web4os.tenancy import AccountId, get_owned, system_session, tenant_session

log = logging.getLogger("web4os.routines")

# A due time this far in the past is still run as on time (a sweep comes every few
# seconds; this covers a slow sweep or a quick restart). Older ones are missed runs.
ON_TIME = timedelta(minutes=2)
BATCH = 500  # due routines handled per sweep; the rest on the next one


def fire_due(now: datetime | None = None) -> int:
    """Handle every routine due at ``now``; how many due times this process claimed."""
    now = now or utcnow()
    with system_session() as s:  # ids only: each routine is handled in its tenant's wall
        due = s.execute(select(Routine.id, Routine.account_id, Routine.next_run_at).where(
            Routine.status == RoutineStatus.ACTIVE, Routine.next_run_at <= now)
            .order_by(Routine.next_run_at).limit(BATCH)).all()
    claimed = 0
    for routine_id, account_id, next_run_at in due:
        if next_run_at is None:  # the query's filter rules it out; this tells mypy
            continue
        try:
            with tenant_session(account_id) as s:
                claimed += fire_one(s, AccountId(account_id), routine_id, next_run_at, now)
        except Exception:  # one broken routine must not hold up the others
            log.exception("routine %s could not be fired", routine_id)
    return claimed


def claim(session: Session, routine: Routine, old: datetime, new: datetime) -> bool:
    """Move the routine's next run from ``old`` to ``new`` unless another process did
    first (or the routine was paused or rescheduled meanwhile)."""
    result = session.execute(
        update(Routine).where(Routine.id == routine.id,
                              Routine.account_id == routine.account_id,
                              Routine.next_run_at == old,
                              Routine.status == RoutineStatus.ACTIVE,
                              Routine.cron == routine.cron,
                              Routine.time_zone == routine.time_zone)
        .values(next_run_at=new).execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0) == 1)


def fire_one(session: Session, account_id: AccountId, routine_id: int, old: datetime,
             now: datetime) -> int:
    """Claim the routine's due time ``old`` and apply its policies (1 if claimed)."""
    routine = get_owned(session, Routine, routine_id, account_id)
    sched = service.saved_schedule(routine)
    due = schedule.due_between(sched, old, now)
    if not claim(session, routine, old, schedule.next_after(sched, now)):
        return 0
    on_time = [d for d in due if now - d <= ON_TIME]
    missed = [d for d in due if now - d > ON_TIME]
    if missed and routine.missed_policy == MissedPolicy.RUN_ONCE:
        _start_unless_overlap(session, routine, due[-1],
                              note=f"One run for {_runs(len(due))} due since "
                                   f"{_when(due[0])}.")
        return 1
    if missed:
        service.record_skip(session, routine, missed[-1], reason="missed",
                            message=f"{_runs(len(missed)).capitalize()} missed while "
                                    f"web4os was down (from {_when(missed[0])}); skipped.")
    if on_time:
        _start_unless_overlap(session, routine, on_time[-1])
    return 1


def _start_unless_overlap(session: Session, routine: Routine, due_at: datetime,
                          note: str = "") -> None:
    if routine.overlap_policy == OverlapPolicy.SKIP:
        active = service.previous_run_active(session, routine)
        if active is not None:
            service.record_skip(session, routine, due_at, reason="overlap",
                                message=f"The previous run's goal (#{active.id}) is still "
                                        f"{active.status.value}; skipped.")
            return
    service.start_run(session, routine, due_at, note=note)


def _runs(n: int) -> str:
    return "1 run" if n == 1 else f"{n} runs"


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")

"""JSON API v1 for routines: the same services and checks as the pages."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from web4os.api.deps import ApiOperator, ApiReader
from web4os.routines import schedule, service
from web4os.routines.models import Routine, RoutineRun
from web4os.routines.schemas import RoutineIn, RoutineOut, RoutineRunOut
from web4os.tenancy import AccountId
from web4os.web.deps import SessionDep

router = APIRouter(prefix="/api/v1/routines", tags=["api"])


def _run_out(run: RoutineRun, goal_status: str | None = None) -> RoutineRunOut:
    return RoutineRunOut(id=run.id, routine_id=run.routine_id, due_at=run.due_at,
                         outcome=run.outcome.value, reason=run.reason, message=run.message,
                         manual=run.manual, goal_id=run.goal_id, goal_status=goal_status)


def _out(routine: Routine, last: RoutineRun | None) -> RoutineOut:
    sched = service.saved_schedule(routine)
    first = routine.next_run_at
    return RoutineOut(
        id=routine.id, title=routine.title, brief=routine.brief,
        require_approval=routine.require_approval, credit_cap=routine.credit_cap,
        template_id=routine.template_id,
        preset=routine.preset, cron=routine.cron, schedule=schedule.describe(sched),
        time_zone=routine.time_zone, missed_policy=routine.missed_policy.value,
        overlap_policy=routine.overlap_policy.value, status=routine.status.value,
        next_run_at=first,
        next_runs=[first, *schedule.next_times(sched, first, 4)] if first else [],
        last_run=_run_out(last) if last else None, created_at=routine.created_at)


def _one(session: Session, account_id: AccountId, routine: Routine) -> RoutineOut:
    return _out(routine, service.last_runs(session, account_id, [routine.id]).get(routine.id))


@router.get("")
def list_routines(session: SessionDep, ctx: ApiReader) -> list[RoutineOut]:
    routines = service.list_routines(session, ctx.account_id)
    last = service.last_runs(session, ctx.account_id, [r.id for r in routines])
    return [_out(r, last.get(r.id)) for r in routines]


@router.post("", status_code=201)
def create_routine(body: RoutineIn, session: SessionDep, ctx: ApiOperator) -> RoutineOut:
    """A preset (weekdays · daily · mondays · monthly) at ``at``, or ``preset="cron"``
    with ``cron``; an error names the field (``{"detail": …, "field": …}``)."""
    return _one(session, ctx.account_id, service.save_routine(session, ctx, body))


@router.get("/{routine_id}")
def get_routine(routine_id: int, session: SessionDep, ctx: ApiReader) -> RoutineOut:
    return _one(session, ctx.account_id, service.get_routine(session, ctx.account_id, routine_id))


@router.put("/{routine_id}")
def update_routine(routine_id: int, body: RoutineIn, session: SessionDep,
                   ctx: ApiOperator) -> RoutineOut:
    routine = service.save_routine(session, ctx, body, routine_id=routine_id)
    return _one(session, ctx.account_id, routine)


@router.post("/{routine_id}/pause")
def pause_routine(routine_id: int, session: SessionDep, ctx: ApiOperator) -> RoutineOut:
    return _one(session, ctx.account_id, service.pause(session, ctx, routine_id))


@router.post("/{routine_id}/resume")
def resume_routine(routine_id: int, session: SessionDep, ctx: ApiOperator) -> RoutineOut:
    return _one(session, ctx.account_id, service.resume(session, ctx, routine_id))


@router.post("/{routine_id}/run", status_code=201)
def run_routine_now(routine_id: int, session: SessionDep, ctx: ApiOperator) -> RoutineRunOut:
    """Start a run now (409 with the reason when it cannot start)."""
    return _run_out(service.run_now(session, ctx, routine_id))


@router.delete("/{routine_id}", status_code=204)
def archive_routine(routine_id: int, session: SessionDep, ctx: ApiOperator) -> Response:
    """Archive: no more runs; the history and its goals stay."""
    service.archive(session, ctx, routine_id)
    return Response(status_code=204)


@router.get("/{routine_id}/runs")
def routine_runs(routine_id: int, session: SessionDep, ctx: ApiReader) -> list[RoutineRunOut]:
    runs = service.runs_of(session, ctx.account_id, routine_id)
    status = service.goal_statuses(session, ctx.account_id, runs)
    return [_run_out(r, status[r.goal_id].value if r.goal_id in status else None)
            for r in runs]

"""Routines: save, pause, resume, archive, list, and start one run of a routine.

A run's goal is made by the goal service (``goals.service.create_goal``), so planning,
credits and caps apply to it as to any goal. ``run_could_not_start`` is the one place a
run that was due ends without a goal for a reason the operator must hear about.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from web4os.accounts.models import Account
from web4os.accounts.service import account_is_active
from web4os.accounts.zones import parse_time_zone
from web4os.credits import service as credits
from web4os.db import utcnow
from web4os.errors import Conflict, InvalidInput, NotFound
from web4os.goals import service as goals
from web4os.goals.models import Goal, GoalStatus
from web4os.goals.schemas import GoalCreate
from web4os.goaltemplates import service as templates
from web4os.routines import outcomes, schedule
from web4os.routines.models import Routine, RoutineRun, RoutineStatus, RunOutcome
from web4os.routines.schemas import RoutineIn
from web4os.tenancy import AccountId, TenantContext, get_owned, of_account, scoped

ENDED = (GoalStatus.COMPLETED, GoalStatus.FAILED, GoalStatus.CANCELLED)


def _goal_fields(data: RoutineIn) -> GoalCreate:
    """The goal each run will start, checked by the goal's own rules now, at save time."""
    try:
        return GoalCreate(title=data.title, brief=data.brief,
                          require_approval=data.require_approval, credit_cap=data.credit_cap)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else None
        raise InvalidInput(err["msg"].removeprefix("Value error, "), field=field) from None


def schedule_of(session: Session, account_id: AccountId, data: RoutineIn,
                now: datetime) -> schedule.Schedule:
    """The checked schedule of ``data``; an empty zone means the account's."""
    zone = data.time_zone.strip()
    if not zone:
        account = session.get(Account, account_id)
        zone = account.time_zone if account is not None else "UTC"
    return schedule.build(data.preset, data.at, data.cron, parse_time_zone(zone), now)


def saved_schedule(routine: Routine) -> schedule.Schedule:
    return schedule.Schedule(preset=routine.preset, cron=routine.cron,
                             time_zone=routine.time_zone)


def _template_of(session: Session, account_id: AccountId, data: RoutineIn) -> RoutineIn:
    """With a template, the routine's fields are its (the title may name the routine
    otherwise); the runs read the template afresh each time."""
    if data.template_id is None:
        return data
    try:
        template = templates.get_template(session, account_id, data.template_id)
    except NotFound:
        raise InvalidInput("There is no such template; pick one from the list.",
                           field="template_id") from None
    return data.model_copy(update={
        "title": data.title.strip() or template.title, "brief": template.brief,
        "require_approval": template.require_approval, "credit_cap": template.credit_cap})


def save_routine(session: Session, ctx: TenantContext, data: RoutineIn, *,
                 routine_id: int | None = None, now: datetime | None = None) -> Routine:
    """Create a routine, or change one; its next run is worked out afresh from now."""
    now = now or utcnow()
    existing = None if routine_id is None else get_routine(session, ctx.account_id, routine_id)
    data = _template_of(session, ctx.account_id, data)
    goal = _goal_fields(data)
    sched = schedule_of(session, ctx.account_id, data, now)
    routine = existing or Routine(account_id=ctx.account_id, created_by_id=ctx.user_id,
                                  status=RoutineStatus.ACTIVE)
    if existing is None:
        session.add(routine)
    routine.title, routine.brief = goal.title, goal.brief
    routine.require_approval, routine.credit_cap = goal.require_approval, goal.credit_cap
    routine.template_id = data.template_id
    routine.preset, routine.cron, routine.time_zone = sched.preset, sched.cron, sched.time_zone
    routine.missed_policy, routine.overlap_policy = data.missed_policy, data.overlap_policy
    if routine.status == RoutineStatus.ACTIVE:
        routine.next_run_at = schedule.next_after(sched, now)
    session.flush()
    return routine


def get_routine(session: Session, account_id: AccountId, routine_id: int) -> Routine:
    """One routine of the account (an archived one is gone for everyone)."""
    routine = get_owned(session, Routine, routine_id, account_id)
    if routine.status == RoutineStatus.ARCHIVED:
        raise NotFound("No such routine.")
    return routine


def list_routines(session: Session, account_id: AccountId) -> list[Routine]:
    """The account's routines, soonest next run first, paused ones last."""
    return list(session.scalars(
        scoped(Routine, account_id).where(Routine.status != RoutineStatus.ARCHIVED)
        .order_by(Routine.next_run_at.is_(None), Routine.next_run_at, Routine.id)))


def pause(session: Session, ctx: TenantContext, routine_id: int) -> Routine:
    """No run starts while paused; runs due meanwhile are not made up on resume."""
    routine = get_routine(session, ctx.account_id, routine_id)
    routine.status, routine.next_run_at = RoutineStatus.PAUSED, None
    session.flush()
    return routine


def resume(session: Session, ctx: TenantContext, routine_id: int, *,
           now: datetime | None = None) -> Routine:
    routine = get_routine(session, ctx.account_id, routine_id)
    if routine.status != RoutineStatus.ACTIVE:
        routine.status = RoutineStatus.ACTIVE
        routine.next_run_at = schedule.next_after(saved_schedule(routine), now or utcnow())
        session.flush()
    return routine


def archive(session: Session, ctx: TenantContext, routine_id: int) -> None:
    """Stop the routine for good; its runs and their goals stay."""
    routine = get_routine(session, ctx.account_id, routine_id)
    routine.status, routine.next_run_at = RoutineStatus.ARCHIVED, None
    session.flush()


def run_now(session: Session, ctx: TenantContext, routine_id: int, *,
            now: datetime | None = None) -> RoutineRun:
    """Start a run at once, whatever the schedule and the overlap policy (the operator
    asked for it); the scheduled runs go on as before."""
    routine = get_routine(session, ctx.account_id, routine_id)
    run = start_run(session, routine, now or utcnow(), manual=True)
    if run.outcome != RunOutcome.STARTED:
        raise Conflict(run.message)
    return run


# --- runs ------------------------------------------------------------------------

def runs_of(session: Session, account_id: AccountId, routine_id: int, *,
            limit: int = 50) -> list[RoutineRun]:
    """A routine's run history, newest first."""
    get_routine(session, account_id, routine_id)
    return list(session.scalars(scoped(RoutineRun, account_id)
                                .where(RoutineRun.routine_id == routine_id)
                                .order_by(RoutineRun.id.desc()).limit(limit)))


def last_runs(session: Session, account_id: AccountId,
              routine_ids: list[int]) -> dict[int, RoutineRun]:
    """Each routine's latest run, in two queries."""
    if not routine_ids:
        return {}
    latest = (select(func.max(RoutineRun.id)).where(of_account(RoutineRun, account_id),
                                                    RoutineRun.routine_id.in_(routine_ids))
              .group_by(RoutineRun.routine_id))
    return {r.routine_id: r for r in session.scalars(
        scoped(RoutineRun, account_id).where(RoutineRun.id.in_(latest)))}


def goal_statuses(session: Session, account_id: AccountId,
                  runs: list[RoutineRun]) -> dict[int, GoalStatus]:
    ids = [r.goal_id for r in runs if r.goal_id is not None]
    if not ids:
        return {}
    return {goal_id: status for goal_id, status in session.execute(
        select(Goal.id, Goal.status).where(of_account(Goal, account_id), Goal.id.in_(ids)))}


def routine_of_goal(session: Session, account_id: AccountId, goal_id: int) -> Routine | None:
    """The routine whose run started this goal, if any."""
    return session.scalars(scoped(Routine, account_id).join(
        RoutineRun, (RoutineRun.routine_id == Routine.id)
        & (RoutineRun.account_id == Routine.account_id))
        .where(RoutineRun.goal_id == goal_id)).first()


def previous_run_active(session: Session, routine: Routine) -> Goal | None:
    """The goal of the routine's latest started run, if it is still going."""
    goal = session.scalars(select(Goal).join(RoutineRun, RoutineRun.goal_id == Goal.id).where(
        of_account(RoutineRun, AccountId(routine.account_id)),
        RoutineRun.routine_id == routine.id, RoutineRun.outcome == RunOutcome.STARTED)
        .order_by(RoutineRun.id.desc()).limit(1)).first()
    return goal if goal is not None and goal.status not in ENDED else None


def record_skip(session: Session, routine: Routine, due_at: datetime, *, reason: str,
                message: str) -> RoutineRun:
    """A due time the routine's own policy passed over (overlap, missed)."""
    return _run_row(session, routine, due_at, RunOutcome.SKIPPED, reason, message)


def run_could_not_start(session: Session, routine: Routine, due_at: datetime, *, reason: str,
                        message: str, manual: bool = False) -> RoutineRun:
    """THE place a due run ends without a goal for a reason the operator must hear about
    (no credits, a suspended account, a title the goal rules no longer accept). Recorded
    in the caller's transaction, which also holds the claim of the due time."""
    run = _run_row(session, routine, due_at, RunOutcome.FAILED, reason, message, manual=manual)
    outcomes.could_not_start(session, routine, run)
    return run


def _run_row(session: Session, routine: Routine, due_at: datetime, outcome: RunOutcome,
             reason: str, message: str, *, goal_id: int | None = None,
             manual: bool = False) -> RoutineRun:
    run = RoutineRun(account_id=routine.account_id, routine_id=routine.id, due_at=due_at,
                     outcome=outcome, reason=reason, message=message, goal_id=goal_id,
                     manual=manual)
    session.add(run)
    session.flush()
    return run


def start_run(session: Session, routine: Routine, due_at: datetime, *, manual: bool = False,
              note: str = "") -> RoutineRun:
    """Start the routine's goal for ``due_at`` through the goal service, or record why
    it could not start."""
    aid = AccountId(routine.account_id)
    if not account_is_active(session, aid):
        return run_could_not_start(session, routine, due_at, reason="suspended", manual=manual,
                                   message="The account is suspended: no run starts.")
    if credits.balance(session, aid) <= 0:
        return run_could_not_start(session, routine, due_at, reason="credits", manual=manual,
                                   message="No credits left: the run did not start. "
                                           "Top up to let the next one start.")
    ctx = TenantContext(account_id=aid, user_id=routine.created_by_id, role="operator",
                        actor=f"routine:{routine.id}")
    try:
        start = (None if routine.template_id is None
                 else templates.prepare_start(session, ctx, routine.template_id))
        data = _goal_fields_of(routine) if start is None else start.goal
    except templates.TemplateNotFound:
        return run_could_not_start(session, routine, due_at, reason="template", manual=manual,
                                   message="The template this routine starts its goal from "
                                           "was deleted: edit the routine to pick another.")
    except InvalidInput as exc:
        return run_could_not_start(session, routine, due_at, reason="invalid", manual=manual,
                                   message=f"The routine's goal is not valid: {exc.message}")
    goal = (goals.create_goal(session, ctx, data) if start is None
            else templates.start_prepared(session, ctx, start))
    goals.log_goal_event(session, goal, kind="goal", actor=ctx.actor,
                         message=f"Started by routine “{routine.title}”."
                                 + (f" {note}" if note else ""))
    return _run_row(session, routine, due_at, RunOutcome.STARTED, "manual" if manual else "",
                    note, goal_id=goal.id, manual=manual)


def _goal_fields_of(routine: Routine) -> GoalCreate:
    return _goal_fields(RoutineIn(title=routine.title, brief=routine.brief,
                                  require_approval=routine.require_approval,
                                  credit_cap=routine.credit_cap))

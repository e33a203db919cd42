"""Routine pages (HTML + htmx). Thin: parse the form, call the service, render."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from web4os.accounts.deps import CsrfDep, OperatorCtx, ReaderCtx
from web4os.accounts.models import Account
from web4os.accounts.zones import known_zones, zone_of
from web4os.credits.caps import parse_cap
from web4os.db import utcnow
from web4os.errors import DomainError, InvalidInput, NotFound
from web4os.goals import service as goals
from web4os.goaltemplates import service as templates
from web4os.goaltemplates.models import GoalTemplate
from web4os.routines import schedule, service
from web4os.routines.models import Routine
from web4os.routines.schemas import RoutineIn
from web4os.tenancy import AccountId, TenantContext
from web4os.text import check_form
from web4os.web.deps import SessionDep
from web4os.web.forms import FormValues, field_errors
from web4os.web.templating import render

router = APIRouter()
PREVIEW_FIELDS = ("preset", "at", "cron", "time_zone")


def local_time(at: datetime | None, zone: str) -> str:
    """An instant as the routine's wall clock shows it: ``Mon 7 Dec 2026, 09:00 GMT``."""
    if at is None:
        return "—"
    here = at.astimezone(zone_of(zone))
    return f"{here:%a} {here.day} {here:%b %Y, %H:%M} {here.tzname()}"


def routine_in(values: dict[str, str]) -> RoutineIn:
    """The form's fields as the API's body, so both are checked by the same rules."""
    check_form(values)
    fields = ("title", "brief", "preset", "at", "cron", "time_zone", "missed_policy",
              "overlap_policy")
    return RoutineIn.model_validate({
        **{k: values[k] for k in fields if k in values},
        "require_approval": values.get("require_approval") == "on",
        "credit_cap": parse_cap(values.get("credit_cap")),
        "template_id": _template_choice(values.get("template_id", ""))})


def _template_choice(raw: str) -> int | None:
    """The “From template” select: empty for none, else a template's id."""
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise InvalidInput("There is no such template; pick one from the list.",
                           field="template_id")
    return int(raw)


def preview(session: Session, account_id: AccountId,
            values: dict[str, str]) -> dict[str, Any]:
    """The next five run times of the schedule as typed, or the error naming its field."""
    try:
        check_form({k: values.get(k, "") for k in PREVIEW_FIELDS})
        data = RoutineIn(title="preview", **{k: values.get(k, "") for k in PREVIEW_FIELDS})
        sched = service.schedule_of(session, account_id, data, utcnow())
    except (ValidationError, DomainError) as exc:
        return {"preview_errors": field_errors(exc), "preview_times": []}
    return {"preview_errors": {}, "preview_zone": sched.time_zone,
            "preview_times": [local_time(t, sched.time_zone)
                              for t in schedule.next_times(sched, utcnow())]}


def _account_zone(session: Session, account_id: AccountId) -> str:
    account = session.get(Account, account_id)
    return account.time_zone if account is not None else "UTC"


def _form_page(request: Request, session: Session, ctx: TenantContext,
               values: dict[str, str], errors: dict[str, str], routine: Routine | None,
               status_code: int = 200) -> Response:
    return render(request, "routines/form.html", {
        "values": values, "errors": errors, "routine": routine,
        "presets": schedule.PRESETS, "zones": known_zones(),
        "account_zone": _account_zone(session, ctx.account_id),
        "goal_templates": templates.list_templates(session, ctx.account_id),
        **preview(session, ctx.account_id, values)}, status_code=status_code)


def _values_of(routine: Routine) -> dict[str, str]:
    return {"title": routine.title, "brief": routine.brief,
            "require_approval": "on" if routine.require_approval else "",
            "credit_cap": str(routine.credit_cap or ""), "preset": routine.preset,
            "at": schedule.at_of(routine.cron) or "09:00",
            "cron": routine.cron, "time_zone": routine.time_zone,
            "missed_policy": routine.missed_policy.value,
            "overlap_policy": routine.overlap_policy.value,
            "template_id": str(routine.template_id or "")}


@router.get("/routines")
def routines_page(request: Request, session: SessionDep, ctx: ReaderCtx) -> Response:
    routines = service.list_routines(session, ctx.account_id)
    return render(request, "routines/list.html", {
        "routines": routines, "local_time": local_time,
        "describe": lambda r: schedule.describe(service.saved_schedule(r)),
        "last": service.last_runs(session, ctx.account_id, [r.id for r in routines])})


@router.get("/routines/new")
def new_routine(request: Request, session: SessionDep, ctx: OperatorCtx) -> Response:
    values = {"preset": "weekdays", "at": "09:00", "time_zone": "",
              "missed_policy": "skip", "overlap_policy": "skip"}
    return _form_page(request, session, ctx, values, {}, None)


@router.get("/routines/preview")
def preview_fragment(request: Request, session: SessionDep, ctx: ReaderCtx) -> Response:
    """The next five run times as the schedule is typed (htmx swaps it into the form)."""
    values = {k: request.query_params.get(k, "") for k in PREVIEW_FIELDS}
    return render(request, "routines/_preview.html", preview(session, ctx.account_id, values))


def _save(request: Request, session: Session, ctx: TenantContext, values: dict[str, str],
          routine_id: int | None) -> Response:
    routine = service.get_routine(session, ctx.account_id, routine_id) if routine_id else None
    try:
        data = routine_in(values)
        if values.get("intent") == "preview":
            service.schedule_of(session, ctx.account_id, data, utcnow())
            return _form_page(request, session, ctx, values, {}, routine)
        saved = service.save_routine(session, ctx, data, routine_id=routine_id)
    except (ValidationError, DomainError) as exc:
        if isinstance(exc, DomainError) and exc.field is None:
            raise
        session.rollback()
        routine = service.get_routine(session, ctx.account_id, routine_id) if routine_id else None
        resp = _form_page(request, session, ctx, values, field_errors(exc), routine,
                          status_code=400)
        resp.headers["HX-Push-Url"] = f"/routines/{routine_id}/edit" if routine_id else "/routines/new"
        return resp
    return RedirectResponse(f"/routines/{saved.id}", status_code=303)


@router.post("/routines", dependencies=[CsrfDep])
def create_routine(request: Request, session: SessionDep, ctx: OperatorCtx,
                   values: FormValues) -> Response:
    return _save(request, session, ctx, values, None)


@router.get("/routines/{routine_id}")
def routine_page(request: Request, routine_id: int, session: SessionDep,
                 ctx: ReaderCtx) -> Response:
    routine = service.get_routine(session, ctx.account_id, routine_id)
    runs = service.runs_of(session, ctx.account_id, routine_id)
    sched = service.saved_schedule(routine)
    first = routine.next_run_at
    upcoming = [first, *schedule.next_times(sched, first, 4)] if first else []
    return render(request, "routines/detail.html", {
        "routine": routine, "runs": runs, "schedule_text": schedule.describe(sched),
        "upcoming": [local_time(t, routine.time_zone) for t in upcoming],
        "next_run": local_time(routine.next_run_at, routine.time_zone),
        "goal_status": service.goal_statuses(session, ctx.account_id, runs),
        "template": _live_template(session, ctx.account_id, routine), "local_time": local_time})


def _live_template(session: Session, account_id: AccountId,
                   routine: Routine) -> GoalTemplate | None:
    """The template the routine runs, unless there is none or it was deleted."""
    if routine.template_id is None:
        return None
    try:
        return templates.get_template(session, account_id, routine.template_id)
    except NotFound:
        return None


@router.get("/routines/{routine_id}/edit")
def edit_routine(request: Request, routine_id: int, session: SessionDep,
                 ctx: OperatorCtx) -> Response:
    routine = service.get_routine(session, ctx.account_id, routine_id)
    return _form_page(request, session, ctx, _values_of(routine), {}, routine)


@router.post("/routines/{routine_id}", dependencies=[CsrfDep])
def update_routine(request: Request, routine_id: int, session: SessionDep, ctx: OperatorCtx,
                   values: FormValues) -> Response:
    return _save(request, session, ctx, values, routine_id)


@router.post("/routines/{routine_id}/pause", dependencies=[CsrfDep])
def pause_routine(routine_id: int, session: SessionDep, ctx: OperatorCtx) -> Response:
    service.pause(session, ctx, routine_id)
    return RedirectResponse(f"/routines/{routine_id}", status_code=303)


@router.post("/routines/{routine_id}/resume", dependencies=[CsrfDep])
def resume_routine(routine_id: int, session: SessionDep, ctx: OperatorCtx) -> Response:
    service.resume(session, ctx, routine_id)
    return RedirectResponse(f"/routines/{routine_id}", status_code=303)


@router.post("/routines/{routine_id}/run", dependencies=[CsrfDep])
def run_routine_now(routine_id: int, session: SessionDep, ctx: OperatorCtx) -> Response:
    run = service.run_now(session, ctx, routine_id)
    return RedirectResponse(f"/goals/{run.goal_id}", status_code=303)


@router.post("/routines/{routine_id}/archive", dependencies=[CsrfDep])
def archive_routine(routine_id: int, session: SessionDep, ctx: OperatorCtx) -> Response:
    service.archive(session, ctx, routine_id)
    return RedirectResponse("/routines", status_code=303)


@router.get("/goals/{goal_id}/routine")
def goal_routine(request: Request, goal_id: int, session: SessionDep,
                 ctx: ReaderCtx) -> Response:
    """“Started by routine X” on a goal's page (loaded with it; empty for other goals)."""
    goals.get_goal(session, ctx.account_id, goal_id)  # another account's goal: 404
    return render(request, "routines/_goal_origin.html", {
        "routine": service.routine_of_goal(session, ctx.account_id, goal_id)})

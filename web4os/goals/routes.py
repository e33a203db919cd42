"""Goal and card pages (HTML + htmx). Thin: parse, call a service, render."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from web4os.accounts.deps import CsrfDep, OperatorCtx, ReaderCtx
from web4os.config import get_settings
from web4os.credits import service as credits
from web4os.credits import topups
from web4os.credits.caps import parse_cap
from web4os.errors import Conflict, DomainError, NotFound
from web4os.files import service as files
from web4os.goals import actions, activity, board, graph, next_up, service, ways_on
from web4os.goals.models import Task
from web4os.goals.scheduling import OUT_OF_CREDITS
from web4os.goals.schemas import GoalCreate
from web4os.goals.triage import hold_kind, listed_state
from web4os.text import check_form
from web4os.web.deps import HtmxDep, SessionDep
from web4os.web.forms import FormLists, FormValues, UploadForm, field_errors
from web4os.web.templating import render, templates

router = APIRouter()
templates.env.globals["hold_kind"] = hold_kind  # the board's card macro reads it
templates.env.globals["technical_kinds"] = activity.CARD_TECHNICAL
templates.env.globals["out_of_credits"] = OUT_OF_CREDITS
templates.env.globals["listed_state"] = listed_state

EXAMPLES = (
    "Launch a monthly newsletter for our bakery",
    "Plan a spring promotion for our flower shop",
    "Find three new suppliers for organic coffee beans",
    "Write onboarding docs for our new part-time staff",
)


def _home_context(request: Request, session: SessionDep, ctx: ReaderCtx) -> dict[str, object]:
    goal_list = service.list_goals(session, ctx.account_id)
    # "Your account is ready" is for an owner arriving at a fresh account; anyone else who
    # arrives by an invite hears which account they joined, as what.
    arrived = {request.query_params.get("welcome"), request.query_params.get("joined")} & {"1"}
    welcome = bool(arrived) and ctx.role == "owner" and not goal_list
    return {
        "welcome": welcome,
        "joined": request.query_params.get("joined") == "1" and not welcome,
        "goals": goal_list,
        "progress": service.progress_for(session, ctx.account_id, [g.id for g in goal_list]),
        "balance": credits.balance(session, ctx.account_id),
        "examples": EXAMPLES,
        "limits": {"title": get_settings().max_goal_title,
                   "brief": get_settings().max_goal_brief},
    }


@router.get("/")
def home(request: Request, session: SessionDep, ctx: ReaderCtx) -> Response:
    context = _home_context(request, session, ctx)
    return render(request, "goals/home.html", {**context, "values": {}, "errors": {}})


@router.post("/goals", dependencies=[CsrfDep])
def create_goal(request: Request, upload: UploadForm, session: SessionDep,
                ctx: OperatorCtx) -> Response:
    values, attached = upload
    try:
        check_form(values)
        data = GoalCreate(title=values.get("title", ""), brief=values.get("brief", ""),
                          require_approval=values.get("require_approval") == "on",
                          credit_cap=parse_cap(values.get("credit_cap")))
        goal = service.create_goal(session, ctx, data)
        if attached:  # the goal and its files together, or neither
            files.upload_many(session, ctx, attached, goal=goal)
    except (ValidationError, DomainError) as exc:
        session.rollback()
        context = _home_context(request, session, ctx)
        resp = render(request, "goals/home.html",
                      {**context, "values": values, "errors": field_errors(exc)},
                      status_code=400)
        resp.headers["HX-Push-Url"] = "/"  # a boosted post would otherwise show /goals
        return resp
    return RedirectResponse(f"/goals/{goal.id}", status_code=303)


def _board_context(request: Request, session: SessionDep, ctx: ReaderCtx,
                   goal_id: int) -> dict[str, object]:
    b = board.board(session, ctx.account_id, goal_id, request.query_params.getlist("show"))
    way = request.query_params.get("way")  # Needs you links straight to one way's form
    shown = [c for col in b.columns for c in col.cards]
    return {
        "board": b, "graph": graph.plan_graph(b), "open_id": None,
        "feed": activity.feed(service.goal_events(session, ctx.account_id, goal_id, limit=30),
                              {c.agent.slug: c.agent.name for c in shown},
                              {c.id: c.title for c in shown}),
        "ways_on": ways_on.waiting_goal(session, ctx.account_id, b.goal),
        "errors": {}, "values": {},
        "open_way": way if way in ways_on.WAYS_ON else None,
        "files": files.list_files(session, ctx.account_id, goal_id=goal_id),
        "credit_help": topups.credit_help(session, ctx.account_id) if b.credit_blocked else None,
        "max_file": get_settings().max_file_bytes,
    }


@router.get("/goals/{goal_id}")
def goal_page(request: Request, goal_id: int, session: SessionDep, ctx: ReaderCtx) -> Response:
    return render(request, "goals/board.html", {
        **_board_context(request, session, ctx, goal_id), "open_id": _query_int(request, "open"),
        "approved": _query_int(request, "approved"), "skipped": _query_int(request, "skipped")})


@router.get("/goals/{goal_id}/board")
def goal_board_fragment(request: Request, goal_id: int, session: SessionDep,
                        ctx: ReaderCtx) -> Response:
    """The live part of the goal page, polled by htmx (plus the nav's needs-you count)."""
    return render(request, "goals/_live.html",
                  {**_board_context(request, session, ctx, goal_id), "oob": True})


def _card_context(session: SessionDep, ctx: ReaderCtx, task_id: int,
                  goal_id: int | None = None) -> dict[str, object]:
    """The card's page values; with ``goal_id`` (from the path) the card must be that goal's."""
    detail = board.card_detail(session, ctx.account_id, task_id)
    if goal_id is not None and detail.goal.id != goal_id:
        raise NotFound("There is no such card on this goal.")
    blocked = hold_kind(detail.task.status, detail.task.status_reason) == "credits"
    return {"d": detail, "errors": {},
            "next_card": next_up.next_for_you(session, ctx.account_id, task_id),
            "credit_help": topups.credit_help(session, ctx.account_id) if blocked else None}


@router.get("/goals/{goal_id}/tasks/{task_id}")
def card_page(request: Request, goal_id: int, task_id: int, session: SessionDep,
              ctx: ReaderCtx) -> Response:
    context = _card_context(session, ctx, task_id, goal_id)
    opened = request.query_params.get("open")  # Needs you links straight to a card's form
    return render(request, "goals/card.html",
                  {**context, "open_action": opened if opened in ("reassign", "edit") else None})


@router.get("/goals/{goal_id}/tasks/{task_id}/live")
def card_fragment(request: Request, goal_id: int, task_id: int, session: SessionDep,
                  ctx: ReaderCtx) -> Response:
    """The card's live part, polled by htmx while the card can still move on its own."""
    return render(request, "goals/_card_detail.html",
                  {**_card_context(session, ctx, task_id, goal_id), "oob": True})


@router.get("/inbox")
def inbox(request: Request, session: SessionDep, ctx: ReaderCtx) -> Response:
    cards = next_up.inbox_order(session, ctx.account_id)
    stopped = ways_on.waiting_goals(session, ctx.account_id)
    return render(request, "goals/inbox.html", {
        "cards": cards, "goals": stopped, "balance": credits.balance(session, ctx.account_id),
        "needs_you": len(cards) + len(stopped), "open_id": _query_int(request, "open"),
        "credit_help": topups.credit_help(session, ctx.account_id),
        "approved": _query_int(request, "approved"), "skipped": _query_int(request, "skipped"),
    })


def _query_int(request: Request, name: str) -> int | None:
    return _small_int(request.query_params.get(name, ""))


def _small_int(value: str) -> int | None:
    """A row id or a count as typed in a URL or a form; anything else is none."""
    return int(value) if value.isdigit() and len(value) < 10 else None


def _back_to_card(task_id: int, goal_id: int) -> RedirectResponse:
    return RedirectResponse(f"/goals/{goal_id}/tasks/{task_id}", status_code=303)


def _check_unchanged(session: SessionDep, ctx: OperatorCtx, task_id: int,
                     values: dict[str, str]) -> None:
    """Refuse an action decided on an out-of-date view of the card (another operator or
    an agent moved it meanwhile): the operator sees the card as it is now and decides again."""
    seen = values.get("seen", "")
    task = service.get_task(session, ctx.account_id, task_id)
    if seen and seen != task.status.value:
        now = task.status.value.replace("_", " ")
        raise Conflict(f"This card changed while you were looking: it is now {now}. "
                       "Here is the latest version; decide again if you still need to.")


def _apply(session: SessionDep, ctx: OperatorCtx, task_id: int, action: str,
           values: dict[str, str]) -> Task:
    _check_unchanged(session, ctx, task_id, values)
    if action == "approve":
        return actions.approve(session, ctx, task_id)
    if action == "reject":
        return actions.reject(session, ctx, task_id, values.get("feedback", ""))
    if action == "retry":
        return actions.retry(session, ctx, task_id)
    if action == "reassign":
        return actions.reassign(session, ctx, task_id, _int(values.get("agent_id")))
    if action == "edit":
        return actions.edit(session, ctx, task_id, title=values.get("title", ""),
                            instructions=values.get("instructions", ""))
    if action == "cancel":
        return actions.cancel(session, ctx, task_id)
    raise NotFound("There is no such card action.")


@router.post("/tasks/{task_id}/{action}", dependencies=[CsrfDep])
def card_action(request: Request, task_id: int, action: str, session: SessionDep,
                ctx: OperatorCtx, values: FormValues) -> Response:
    """approve · reject · retry · reassign · edit · cancel — one click each.

    A wrong field or a card that changed meanwhile re-renders the card (with the
    operator's input kept) instead of an error page, so the next step is right there.
    """
    place = values.get("from", "")
    try:
        check_form(values)
        following = next_up.next_item(session, ctx.account_id, task_id, place) \
            if place in next_up.PLACES else None
        task = _apply(session, ctx, task_id, action, values)
    except DomainError as exc:
        if exc.field is None and not isinstance(exc, Conflict):
            raise
        session.rollback()
        context = _card_context(session, ctx, task_id)
        detail = context["d"]
        assert isinstance(detail, board.CardDetail)
        errors = field_errors(exc)
        resp = render(request, "goals/card.html", {
            **context, "errors": errors, "values": values, "open_action": action,
            "changed": isinstance(exc, Conflict),
        }, status_code=exc.status_code)
        resp.headers["HX-Push-Url"] = f"/goals/{detail.goal.id}/tasks/{task_id}"
        return resp
    if place in next_up.PLACES:  # inline on the board or in Needs you: go on with the next
        return RedirectResponse(next_up.place_url(place, task.goal_id, following), status_code=303)
    return _back_to_card(task.id, task.goal_id)


@router.post("/tasks/approve-selected", dependencies=[CsrfDep])
def approve_selected(session: SessionDep, ctx: OperatorCtx, values: FormValues,
                     lists: FormLists) -> Response:
    """Approve every ticked card that still waits for review, in one service call."""
    check_form(values)
    place = values.get("from", "inbox")
    goal = _small_int(values.get("goal_id", "")) if place == "board" else None
    ticked = [i for i in map(_small_int, lists.get("task_ids", [])) if i is not None]
    moved = actions.approve_many(session, ctx, ticked) if ticked else []
    base = f"/goals/{goal}" if goal is not None else "/inbox"
    skipped = len(set(ticked)) - len(moved)
    return RedirectResponse(f"{base}?approved={len(moved)}&skipped={skipped}", status_code=303)


def _int(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise DomainError("Pick an agent from the list.", field="agent_id") from None


@router.post("/goals/{goal_id}/cancel", dependencies=[CsrfDep])
def cancel_goal(goal_id: int, session: SessionDep, ctx: OperatorCtx, htmx: HtmxDep) -> Response:
    actions.cancel_goal(session, ctx, goal_id)
    return RedirectResponse(f"/goals/{goal_id}", status_code=303)


@router.post("/goals/{goal_id}/urgent", dependencies=[CsrfDep])
def mark_urgent(goal_id: int, session: SessionDep, ctx: OperatorCtx) -> Response:
    actions.set_urgent(session, ctx, goal_id, True)
    return RedirectResponse(f"/goals/{goal_id}", status_code=303)


@router.post("/goals/{goal_id}/not-urgent", dependencies=[CsrfDep])
def mark_not_urgent(goal_id: int, session: SessionDep, ctx: OperatorCtx) -> Response:
    actions.set_urgent(session, ctx, goal_id, False)
    return RedirectResponse(f"/goals/{goal_id}", status_code=303)


# --- ways on for a goal that waits (goals/ways_on.py) --------------------------------


def _way_on(request: Request, session: SessionDep, ctx: OperatorCtx, goal_id: int,
            way: str, values: dict[str, str], lists: dict[str, list[str]]) -> Response:
    """Take one way on; a wrong field or a goal that moved on meanwhile re-renders the goal
    page with the message beside the field and the operator's input kept."""
    ticked = lists.get("agent_ids", [])
    try:
        check_form(values)
        if way == "plan_again":
            ways_on.plan_again(session, ctx, goal_id)
        elif way == "edit_goal":
            ways_on.edit_goal(session, ctx, goal_id, title=values.get("title", ""),
                              brief=values.get("brief", ""))
        else:
            ways_on.simple_plan(session, ctx, goal_id, ways_on.parse_agent_ids(ticked))
    except DomainError as exc:
        if exc.field is None and not isinstance(exc, Conflict):
            raise
        session.rollback()
        resp = render(request, "goals/board.html", {
            **_board_context(request, session, ctx, goal_id), "errors": field_errors(exc),
            "values": {**values, "agent_ids": ticked}, "open_way": way,
        }, status_code=exc.status_code)
        resp.headers["HX-Push-Url"] = f"/goals/{goal_id}"
        return resp
    return RedirectResponse(f"/goals/{goal_id}", status_code=303)


@router.post("/goals/{goal_id}/plan-again", dependencies=[CsrfDep])
def plan_again(request: Request, goal_id: int, session: SessionDep, ctx: OperatorCtx,
               values: FormValues, lists: FormLists) -> Response:
    return _way_on(request, session, ctx, goal_id, "plan_again", values, lists)


@router.post("/goals/{goal_id}/edit", dependencies=[CsrfDep])
def edit_goal(request: Request, goal_id: int, session: SessionDep, ctx: OperatorCtx,
              values: FormValues, lists: FormLists) -> Response:
    return _way_on(request, session, ctx, goal_id, "edit_goal", values, lists)


@router.post("/goals/{goal_id}/simple-plan", dependencies=[CsrfDep])
def simple_plan(request: Request, goal_id: int, session: SessionDep, ctx: OperatorCtx,
                values: FormValues, lists: FormLists) -> Response:
    return _way_on(request, session, ctx, goal_id, "simple_plan", values, lists)

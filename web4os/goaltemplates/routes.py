"""Goal template pages (HTML): list, save (also from a goal's page), edit, delete, and
start a goal from a template. Thin: parse the form, call the service, render."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from web4os.accounts.deps import CsrfDep, OperatorCtx, ReaderCtx
from web4os.credits.caps import parse_cap
from web4os.errors import DomainError, InvalidInput
from web4os.files import service as files
from web4os.goaltemplates import service
from web4os.goaltemplates.models import GoalTemplate
from web4os.goaltemplates.schemas import GoalFromTemplate, TemplateIn
from web4os.tenancy import TenantContext
from web4os.text import check_form
from web4os.web.deps import SessionDep
from web4os.web.forms import FormLists, FormValues, field_errors
from web4os.web.templating import render

router = APIRouter()


def _small_int(value: str) -> int | None:
    """A row id as typed in a form; anything else is none."""
    return int(value) if value.isdigit() and len(value) < 10 else None


def template_in(values: dict[str, str], lists: dict[str, list[str]]) -> TemplateIn:
    """The form's fields as the API's body, so both are checked by the same rules."""
    check_form(values)
    chosen = lists.get("attachments", [])
    ids = [i for i in map(_small_int, chosen) if i is not None]
    if len(ids) != len(chosen):
        raise InvalidInput("Pick files from the list.", field="attachments")
    return TemplateIn.model_validate({
        **{k: values[k] for k in ("name", "title", "brief") if k in values},
        "require_approval": values.get("require_approval") == "on",
        "credit_cap": parse_cap(values.get("credit_cap")), "attachments": ids})


def _values_of(data: TemplateIn | GoalTemplate) -> tuple[dict[str, str], list[int]]:
    return ({"name": data.name, "title": data.title, "brief": data.brief,
             "require_approval": "on" if data.require_approval else "",
             "credit_cap": str(data.credit_cap or "")}, list(data.attachments or []))


def _form_page(request: Request, session: Session, ctx: TenantContext, values: dict[str, str],
               chosen: list[int], errors: dict[str, str], template: GoalTemplate | None,
               status_code: int = 200) -> Response:
    goal_id = _small_int(values.get("from_goal", ""))
    offered = service.attachable_files(session, ctx.account_id, goal_id=goal_id, chosen=chosen)
    return render(request, "goaltemplates/form.html", {
        "values": values, "chosen": chosen, "errors": errors, "template": template,
        "offered": offered, "size_words": files.size_words}, status_code=status_code)


def _refused(request: Request, session: Session, ctx: TenantContext, exc: Exception,
             values: dict[str, str], chosen: list[str], template_id: int | None) -> Response:
    """The form again, with the message beside its field and the input kept."""
    if isinstance(exc, DomainError) and exc.field is None:
        raise exc
    session.rollback()
    template = service.get_template(session, ctx.account_id, template_id) if template_id else None
    ids = [i for i in map(_small_int, chosen) if i is not None]
    resp = _form_page(request, session, ctx, values, ids, field_errors(exc), template,
                      status_code=400)
    resp.headers["HX-Push-Url"] = f"/templates/{template_id}/edit" if template_id else "/templates/new"
    return resp


@router.get("/templates")
def templates_page(request: Request, session: SessionDep, ctx: ReaderCtx) -> Response:
    return render(request, "goaltemplates/list.html", {
        "templates": service.list_templates(session, ctx.account_id)})


@router.get("/templates/new")
def new_template(request: Request, session: SessionDep, ctx: OperatorCtx) -> Response:
    return _form_page(request, session, ctx, {}, [], {}, None)


@router.get("/goals/{goal_id}/save-template")
def save_goal_as_template(request: Request, goal_id: int, session: SessionDep,
                          ctx: OperatorCtx) -> Response:
    """“Save as template” on a goal's page: the form prefilled from the goal."""
    values, chosen = _values_of(service.template_of_goal(session, ctx.account_id, goal_id))
    return _form_page(request, session, ctx, {**values, "from_goal": str(goal_id)}, chosen,
                      {}, None)


@router.post("/templates", dependencies=[CsrfDep])
def create_template(request: Request, session: SessionDep, ctx: OperatorCtx,
                    values: FormValues, lists: FormLists) -> Response:
    try:
        saved = service.create_template(session, ctx, template_in(values, lists))
    except (ValidationError, DomainError) as exc:
        return _refused(request, session, ctx, exc, values, lists.get("attachments", []), None)
    return RedirectResponse(f"/templates/{saved.id}", status_code=303)


@router.get("/templates/{template_id}")
def template_page(request: Request, template_id: int, session: SessionDep,
                  ctx: ReaderCtx) -> Response:
    template = service.get_template(session, ctx.account_id, template_id)
    return render(request, "goaltemplates/detail.html", {
        "template": template, "size_words": files.size_words,
        "attached": service.attached_files(session, ctx.account_id, template)})


@router.get("/templates/{template_id}/edit")
def edit_template(request: Request, template_id: int, session: SessionDep,
                  ctx: OperatorCtx) -> Response:
    template = service.get_template(session, ctx.account_id, template_id)
    values, chosen = _values_of(template)
    return _form_page(request, session, ctx, values, chosen, {}, template)


@router.post("/templates/{template_id}", dependencies=[CsrfDep])
def update_template(request: Request, template_id: int, session: SessionDep,
                    ctx: OperatorCtx, values: FormValues, lists: FormLists) -> Response:
    try:
        service.update_template(session, ctx, template_id, template_in(values, lists))
    except (ValidationError, DomainError) as exc:
        return _refused(request, session, ctx, exc, values, lists.get("attachments", []),
                        template_id)
    return RedirectResponse(f"/templates/{template_id}", status_code=303)


@router.post("/templates/{template_id}/delete", dependencies=[CsrfDep])
def delete_template(template_id: int, session: SessionDep, ctx: OperatorCtx) -> Response:
    service.delete_template(session, ctx, template_id)
    return RedirectResponse("/templates", status_code=303)


def _start_page(request: Request, session: Session, ctx: TenantContext,
                template: GoalTemplate, values: dict[str, str], errors: dict[str, str],
                status_code: int = 200) -> Response:
    return render(request, "goaltemplates/start.html", {
        "template": template, "values": values, "errors": errors,
        "size_words": files.size_words,
        "attached": service.attached_files(session, ctx.account_id, template)},
        status_code=status_code)


@router.get("/templates/{template_id}/start")
def start_form(request: Request, template_id: int, session: SessionDep,
               ctx: OperatorCtx) -> Response:
    """The goal form prefilled from the template, to adjust before starting."""
    template = service.get_template(session, ctx.account_id, template_id)
    values, _ = _values_of(template)
    return _start_page(request, session, ctx, template, values, {})


@router.post("/templates/{template_id}/start", dependencies=[CsrfDep])
def start_goal(request: Request, template_id: int, session: SessionDep, ctx: OperatorCtx,
               values: FormValues) -> Response:
    try:
        check_form(values)
        changes = GoalFromTemplate(title=values.get("title", ""), brief=values.get("brief", ""),
                                   require_approval=values.get("require_approval") == "on",
                                   credit_cap=parse_cap(values.get("credit_cap")))
        goal = service.start_goal(session, ctx, template_id, changes)
    except (ValidationError, DomainError) as exc:
        if isinstance(exc, DomainError) and exc.field is None:
            raise
        session.rollback()
        template = service.get_template(session, ctx.account_id, template_id)
        resp = _start_page(request, session, ctx, template, values, field_errors(exc),
                           status_code=400)
        resp.headers["HX-Push-Url"] = f"/templates/{template_id}/start"
        return resp
    return RedirectResponse(f"/goals/{goal.id}", status_code=303)

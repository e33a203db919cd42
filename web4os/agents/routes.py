"""The roster page (/agents) and the knowledge notes page (/notes). Thin: parse, call a
service, render. Owners change agents; operators and owners keep notes; everyone reads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from web4os.accounts.deps import CsrfDep, OperatorCtx, OwnerCtx, ReaderCtx, ViewerDep
from web4os.accounts.models import Role
from web4os.agents import notes, service, tools
from web4os.agents.models import Agent
from web4os.agents.providers import normalize_url
from web4os.config import get_settings
from web4os.credits.caps import parse_cap
from web4os.errors import DomainError, InvalidInput, NotFound
from web4os.tenancy import AccountId
from web4os.text import check_form
from web4os.web.deps import SessionDep
from web4os.web.forms import FormLists, FormValues, field_errors
from web4os.web.templating import render

router = APIRouter()

AGENT_FIELDS = ("name", "role", "instructions", "model", "base_url")


def _can(viewer: ViewerDep, role: Role) -> bool:
    return viewer.role is not None and viewer.role.at_least(role)


def _model_defaults() -> dict[str, Any]:
    """What an agent with no model/endpoint of its own uses, for the page to say so."""
    settings = get_settings()
    return {
        "default_model": OFFLINE if settings.offline_model else settings.openai_model,
        "default_endpoint": normalize_url(settings.openai_base_url) or (
            "" if settings.offline_model else "https://api.openai.com/v1"),
        "allowed_endpoints": sorted(normalize_url(u) for u in settings.model_endpoints),
        "tool_choices": [(t.name, t.label, t.description) for t in tools.CATALOGUE.values()],
        "tool_labels": {t.name: t.label for t in tools.CATALOGUE.values()},
    }


OFFLINE = "the offline model"


def _list_page(request: Request, session: Session, viewer: ViewerDep, account_id: AccountId,
               *, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
               status_code: int = 200) -> Response:
    return render(request, "agents/list.html", {
        "agents": service.list_agents(session, account_id),
        "can_edit": _can(viewer, Role.OWNER),
        "values": values or {"tools": list(service.DEFAULT_TOOLS)}, "errors": errors or {},
        **_model_defaults(),
    }, status_code=status_code)


@router.get("/agents")
def agents_page(request: Request, session: SessionDep, ctx: ReaderCtx,
                viewer: ViewerDep) -> Response:
    return _list_page(request, session, viewer, ctx.account_id)


@router.post("/agents", dependencies=[CsrfDep])
def add_agent(request: Request, session: SessionDep, ctx: OwnerCtx, viewer: ViewerDep,
              values: FormValues, lists: FormLists) -> Response:
    chosen = lists.get("tools", [])
    try:
        check_form(values)
        agent = service.create_agent(
            session, ctx.account_id, slug=values.get("slug", ""), name=values.get("name", ""),
            role=values.get("role", ""), instructions=values.get("instructions", ""),
            model=values.get("model", ""), base_url=values.get("base_url", ""), tools=chosen)
    except DomainError as exc:
        return _list_page(request, session, viewer, ctx.account_id,
                          values={**values, "tools": chosen}, errors=field_errors(exc),
                          status_code=400)
    return RedirectResponse(f"/agents?added={agent.slug}", status_code=303)


def _edit_page(request: Request, session: Session, viewer: ViewerDep, agent: Agent, *,
               values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
               status_code: int = 200) -> Response:
    current = {f: getattr(agent, f) for f in AGENT_FIELDS}
    current.update(enabled=agent.enabled, tools=list(agent.tools or []),
                   credit_cap="" if agent.credit_cap is None else str(agent.credit_cap))
    return render(request, "agents/edit.html", {
        "agent": agent, "can_edit": _can(viewer, Role.OWNER),
        "values": values or current, "errors": errors or {},
        **_model_defaults(),
    }, status_code=status_code)


@router.get("/agents/{agent_id}")
def agent_page(request: Request, agent_id: int, session: SessionDep, ctx: ReaderCtx,
               viewer: ViewerDep) -> Response:
    return _edit_page(request, session, viewer, service.get_agent(session, ctx.account_id,
                                                                  agent_id))


@router.post("/agents/{agent_id}", dependencies=[CsrfDep])
def edit_agent(request: Request, agent_id: int, session: SessionDep, ctx: OwnerCtx,
               viewer: ViewerDep, values: FormValues, lists: FormLists) -> Response:
    agent = service.get_agent(session, ctx.account_id, agent_id)
    chosen = lists.get("tools", [])
    try:
        check_form(values)
        service.update_agent(
            session, ctx.account_id, agent.id, name=values.get("name", ""),
            role=values.get("role", ""), instructions=values.get("instructions", ""),
            model=values.get("model", ""), base_url=values.get("base_url", ""),
            enabled=values.get("enabled") == "on", credit_cap=parse_cap(values.get("credit_cap", "")),
            tools=chosen)
    except DomainError as exc:
        session.rollback()
        agent = service.get_agent(session, ctx.account_id, agent_id)
        return _edit_page(request, session, viewer, agent,
                          values={**values, "enabled": values.get("enabled") == "on",
                                  "tools": chosen},
                          errors=field_errors(exc), status_code=400)
    return RedirectResponse(f"/agents/{agent.id}?saved=1", status_code=303)


@router.post("/agents/{agent_id}/{action}", dependencies=[CsrfDep])
def toggle_agent(agent_id: int, action: str, session: SessionDep, ctx: OwnerCtx) -> Response:
    """enable · disable — one click from the roster."""
    if action not in ("enable", "disable"):
        raise InvalidInput("Unknown action.")
    a = service.get_agent(session, ctx.account_id, agent_id)
    service.update_agent(session, ctx.account_id, a.id, name=a.name, role=a.role,
                         instructions=a.instructions, model=a.model, base_url=a.base_url,
                         enabled=action == "enable", credit_cap=a.credit_cap)
    return RedirectResponse("/agents", status_code=303)


# --- notes ------------------------------------------------------------------------

def _notes_page(request: Request, session: Session, viewer: ViewerDep, account_id: AccountId,
                *, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                editing: int | None = None, status_code: int = 200) -> Response:
    return render(request, "agents/notes.html", {
        "notes": notes.list_notes(session, account_id), "can_edit": _can(viewer, Role.OPERATOR),
        "values": values or {}, "errors": errors or {}, "editing": editing,
    }, status_code=status_code)


@router.get("/notes")
def notes_page(request: Request, session: SessionDep, ctx: ReaderCtx,
               viewer: ViewerDep, edit: int | None = None) -> Response:
    values: dict[str, Any] = {}
    if edit is not None:
        note = notes.get_note(session, ctx.account_id, edit)
        values = {"title": note.title, "body": note.body}
    return _notes_page(request, session, viewer, ctx.account_id, values=values, editing=edit)


@router.post("/notes", dependencies=[CsrfDep])
def save_note(request: Request, session: SessionDep, ctx: OperatorCtx, viewer: ViewerDep,
              values: FormValues) -> Response:
    raw_id = values.get("note_id", "")
    note_id = int(raw_id) if raw_id.isdigit() else None
    try:
        check_form(values)
        notes.save_note(session, ctx, title=values.get("title", ""), body=values.get("body", ""),
                        note_id=note_id)
    except NotFound:
        raise
    except DomainError as exc:
        return _notes_page(request, session, viewer, ctx.account_id, values=values,
                           errors=field_errors(exc), editing=note_id, status_code=400)
    return RedirectResponse("/notes?saved=1", status_code=303)


@router.post("/notes/{note_id}/delete", dependencies=[CsrfDep])
def delete_note(note_id: int, session: SessionDep, ctx: OperatorCtx) -> Response:
    notes.delete_note(session, ctx, note_id)
    return RedirectResponse("/notes", status_code=303)

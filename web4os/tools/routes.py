"""The Tools tab of the agents section (/tools): MCP servers, the built-in web fetch's
switch, and each agent's tool policies.
Thin: parse, call the registry, render. Owners change; operators and viewers read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from web4os.accounts.deps import CsrfDep, OwnerCtx, ReaderCtx, ViewerDep
from web4os.accounts.models import Role
from web4os.agents import service as agents
from web4os.errors import DomainError
from web4os.tenancy import AccountId
from web4os.text import check_form
from web4os.tools import builtin, service
from web4os.tools.models import ToolPolicy
from web4os.web.deps import SessionDep
from web4os.web.forms import FormValues, field_errors
from web4os.web.templating import render

router = APIRouter()

SERVER_FIELDS = ("name", "url", "auth_header", "stdio_name")  # never the credential


def _page(request: Request, session: Session, viewer: ViewerDep, account_id: AccountId,
          agent_id: int | None = None, *, values: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    roster = agents.specialists(session, account_id)  # the CEO plans and reviews: no tools
    chosen = next((a for a in roster if a.id == agent_id), roster[0] if roster else None)
    return render(request, "tools/tools.html", {
        "servers": service.list_servers(session, account_id),
        "web_fetch": builtin.web_fetch_state(session, account_id),
        "roster": roster, "agent": chosen,
        "agent_tools": service.agent_tools(session, account_id, chosen.id) if chosen else [],
        "policies": [p.value for p in ToolPolicy],
        "stdio_choices": service.stdio_choices(),
        "can_edit": viewer.role is not None and viewer.role.at_least(Role.OWNER),
        "values": values or {}, "errors": errors or {},
    }, status_code=status_code)


@router.get("/tools")
def tools_page(request: Request, session: SessionDep, ctx: ReaderCtx, viewer: ViewerDep,
               agent: int | None = None) -> Response:
    return _page(request, session, viewer, ctx.account_id, agent)


@router.post("/tools/servers", dependencies=[CsrfDep])
def add_server(request: Request, session: SessionDep, ctx: OwnerCtx, viewer: ViewerDep,
               values: FormValues) -> Response:
    try:
        check_form(values)
        server = service.add_server(
            session, ctx.account_id, name=values.get("name", ""), url=values.get("url", ""),
            auth_header=values.get("auth_header", ""), credential=values.get("credential", ""),
            stdio_name=values.get("stdio_name", ""))
    except DomainError as exc:
        kept = {k: values.get(k, "") for k in SERVER_FIELDS}
        return _page(request, session, viewer, ctx.account_id, values=kept,
                     errors=field_errors(exc), status_code=400)
    session.commit()  # the server is kept even if listing its tools fails; no lock meanwhile
    service.refresh_tools(session, ctx.account_id, server.id)
    return RedirectResponse(f"/tools?added={server.name}", status_code=303)


@router.post("/tools/servers/{server_id}/refresh", dependencies=[CsrfDep])
def refresh_server(server_id: int, session: SessionDep, ctx: OwnerCtx) -> Response:
    service.refresh_tools(session, ctx.account_id, server_id)
    return RedirectResponse("/tools", status_code=303)


@router.post("/tools/servers/{server_id}/delete", dependencies=[CsrfDep])
def remove_server(server_id: int, session: SessionDep, ctx: OwnerCtx) -> Response:
    service.remove_server(session, ctx.account_id, server_id)
    return RedirectResponse("/tools", status_code=303)


@router.post("/tools/web-fetch", dependencies=[CsrfDep])
def switch_web_fetch(session: SessionDep, ctx: OwnerCtx, values: FormValues) -> Response:
    """The account's web fetch switch: ``enabled`` is ``on`` or ``off``."""
    check_form(values)
    state = builtin.set_web_fetch(session, ctx.account_id, values.get("enabled") == "on")
    return RedirectResponse(f"/tools?web_fetch={'on' if state.enabled else 'off'}",
                            status_code=303)


@router.post("/tools/agents/{agent_id}", dependencies=[CsrfDep])
def save_policies(agent_id: int, session: SessionDep, ctx: OwnerCtx,
                  values: FormValues) -> Response:
    """One select per tool, named ``policy_<tool id>``: allowed, ask or off."""
    check_form(values)
    agent = agents.get_agent(session, ctx.account_id, agent_id)
    for key, policy in values.items():
        if key.startswith("policy_") and key.removeprefix("policy_").isdigit():
            service.set_policy(session, ctx.account_id, agent.id,
                               int(key.removeprefix("policy_")), policy)
    return RedirectResponse(f"/tools?agent={agent.id}&saved=1", status_code=303)

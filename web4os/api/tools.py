"""JSON API for tools (MCP and the built-in web fetch): owners configure servers, the web
fetch switch and policies, operators decide a card's waiting tool calls, everyone reads."""

from __future__ import annotations

from fastapi import Response

from web4os.api.deps import ApiOperator, ApiOwner, ApiReader
from web4os.api.openapi import api_router
from web4os.goals import approvals
from web4os.goals import service as goals
from web4os.goals.approvals import Decision
from web4os.tools import builtin, calls, service
from web4os.tools.schemas import (
    AgentToolOut,
    DecisionIn,
    PolicyIn,
    ServerIn,
    ServerOut,
    ToolCallOut,
    ToolOut,
    WebFetchIn,
    WebFetchOut,
)
from web4os.web.deps import SessionDep

router = api_router("tools")


@router.get("/mcp/servers")
def list_servers(session: SessionDep, ctx: ApiReader) -> list[ServerOut]:
    return [ServerOut.of(s) for s in service.list_servers(session, ctx.account_id)]


@router.post("/mcp/servers", status_code=201)
def add_server(body: ServerIn, session: SessionDep, ctx: ApiOwner) -> ServerOut:
    """Register a server and list its tools (a failed listing shows in status/last_error)."""
    server = service.add_server(session, ctx.account_id, **body.model_dump())
    return ServerOut.of(service.refresh_tools(session, ctx.account_id, server.id))


@router.get("/mcp/servers/{server_id}")
def get_server(server_id: int, session: SessionDep, ctx: ApiReader) -> ServerOut:
    return ServerOut.of(service.get_server(session, ctx.account_id, server_id))


@router.post("/mcp/servers/{server_id}/refresh")
def refresh_server(server_id: int, session: SessionDep, ctx: ApiOwner) -> ServerOut:
    return ServerOut.of(service.refresh_tools(session, ctx.account_id, server_id))


@router.delete("/mcp/servers/{server_id}", status_code=204)
def remove_server(server_id: int, session: SessionDep, ctx: ApiOwner) -> Response:
    service.remove_server(session, ctx.account_id, server_id)
    return Response(status_code=204)


@router.get("/tools/web-fetch")
def web_fetch_state(session: SessionDep, ctx: ApiReader) -> WebFetchOut:
    """The built-in web fetch: allowed on this server, on for this account, its tool id."""
    return WebFetchOut.of(builtin.web_fetch_state(session, ctx.account_id))


@router.put("/tools/web-fetch")
def switch_web_fetch(body: WebFetchIn, session: SessionDep, ctx: ApiOwner) -> WebFetchOut:
    """Turn web fetch on or off for the account (403 when the server admin turned it off);
    then set each agent's policy for ``tool_id`` like any tool's."""
    return WebFetchOut.of(builtin.set_web_fetch(session, ctx.account_id, body.enabled))


@router.get("/mcp/tools")
def list_tools(session: SessionDep, ctx: ApiReader) -> list[ToolOut]:
    return [ToolOut.of(t) for t in service.account_tools(session, ctx.account_id)]


@router.get("/agents/{agent_id}/tools")
def agent_tools(agent_id: int, session: SessionDep, ctx: ApiReader) -> list[AgentToolOut]:
    return [AgentToolOut.of(t) for t in service.agent_tools(session, ctx.account_id, agent_id)]


@router.put("/agents/{agent_id}/tools/{tool_id}")
def set_policy(agent_id: int, tool_id: int, body: PolicyIn, session: SessionDep,
               ctx: ApiOwner) -> AgentToolOut:
    return AgentToolOut.of(service.set_policy(session, ctx.account_id, agent_id, tool_id,
                                              body.policy))


@router.get("/tasks/{task_id}/tool-calls")
def task_tool_calls(task_id: int, session: SessionDep, ctx: ApiReader) -> list[ToolCallOut]:
    """A card's MCP tool calls, oldest first (pending ones are awaiting or in_doubt)."""
    task = goals.get_task(session, ctx.account_id, task_id)
    return [ToolCallOut.of(c) for c in calls.calls_of_task(session, ctx.account_id, task.id)]


@router.post("/tasks/{task_id}/tool-calls/{call_id}/{decision}")
def decide_tool_call(task_id: int, call_id: int, decision: Decision, body: DecisionIn,
                     session: SessionDep, ctx: ApiOperator) -> ToolCallOut:
    """approve (optionally with edited ``arguments``) · deny · mark-done · run-again."""
    return ToolCallOut.of(approvals.decide(session, ctx, task_id, call_id, decision,
                                           arguments=body.arguments, note=body.note))

"""JSON API for the roster: everyone reads it, owners add, edit, disable and enable
agents (disabling is the archive: an agent's history stays, it takes no new cards).
The same service and messages as the /agents pages."""

from __future__ import annotations

from pydantic import BaseModel, Field

from web4os.agents import service
from web4os.api.deps import ApiOwner, ApiReader
from web4os.api.openapi import api_router
from web4os.api.schemas import AgentOut
from web4os.text import Text
from web4os.web.deps import SessionDep

router = api_router("agents")


class AgentIn(BaseModel):
    """A new specialist; ``tools`` omitted gives it every built-in tool."""

    slug: Text = Field(description="The handle plans use: lower-case letters, digits, - or _.")
    name: Text
    role: Text
    instructions: Text = ""
    model: Text = Field(default="", description="Empty: the server's default model.")
    base_url: Text = Field(default="", description="Empty: the server's default endpoint.")
    tools: list[Text] | None = None


class AgentEditIn(BaseModel):
    """Fields to change; a missing one stays as it is."""

    name: Text | None = None
    role: Text | None = None
    instructions: Text | None = None
    model: Text | None = None
    base_url: Text | None = None
    tools: list[Text] | None = None


@router.get("/agents")
def list_agents(session: SessionDep, ctx: ApiReader) -> list[AgentOut]:
    return [AgentOut.model_validate(a) for a in service.list_agents(session, ctx.account_id)]


@router.get("/agents/{agent_id}")
def get_agent(agent_id: int, session: SessionDep, ctx: ApiReader) -> AgentOut:
    return AgentOut.model_validate(service.get_agent(session, ctx.account_id, agent_id))


@router.post("/agents", status_code=201)
def create_agent(body: AgentIn, session: SessionDep, ctx: ApiOwner) -> AgentOut:
    return AgentOut.model_validate(service.create_agent(
        session, ctx.account_id, slug=body.slug, name=body.name, role=body.role,
        instructions=body.instructions, model=body.model, base_url=body.base_url,
        tools=body.tools))


def _update(session: SessionDep, ctx: ApiOwner, agent_id: int, body: AgentEditIn,
            enabled: bool | None = None) -> AgentOut:
    a = service.get_agent(session, ctx.account_id, agent_id)

    def keep(new: str | None, old: str) -> str:
        return old if new is None else new

    return AgentOut.model_validate(service.update_agent(
        session, ctx.account_id, a.id, name=keep(body.name, a.name),
        role=keep(body.role, a.role), instructions=keep(body.instructions, a.instructions),
        model=keep(body.model, a.model), base_url=keep(body.base_url, a.base_url),
        enabled=a.enabled if enabled is None else enabled, credit_cap=a.credit_cap,
        tools=body.tools))


@router.patch("/agents/{agent_id}")
def update_agent(agent_id: int, body: AgentEditIn, session: SessionDep,
                 ctx: ApiOwner) -> AgentOut:
    """Name, role, instructions, model, endpoint, tools (its cap and budget have their own
    routes)."""
    return _update(session, ctx, agent_id, body)


@router.post("/agents/{agent_id}/disable")
def disable_agent(agent_id: int, session: SessionDep, ctx: ApiOwner) -> AgentOut:
    """Archive the agent: it takes no new cards; the CEO can't be disabled (422)."""
    return _update(session, ctx, agent_id, AgentEditIn(), enabled=False)


@router.post("/agents/{agent_id}/enable")
def enable_agent(agent_id: int, session: SessionDep, ctx: ApiOwner) -> AgentOut:
    """Restore a disabled agent."""
    return _update(session, ctx, agent_id, AgentEditIn(), enabled=True)

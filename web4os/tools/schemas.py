"""JSON bodies of the MCP registry (the API). A credential goes in, never out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from web4os.text import TEXT_TREE, Text
from web4os.tools.builtin import WebFetchState
from web4os.tools.models import McpServer, McpTool, ToolCall
from web4os.tools.service import AgentTool


class ServerIn(BaseModel):
    name: Text = Field(max_length=40)
    url: Text = Field(default="", max_length=500)
    auth_header: Text = Field(default="", max_length=80)
    credential: Text = Field(default="", max_length=4000)
    stdio_name: Text = Field(default="", max_length=60)


class ToolOut(BaseModel):
    id: int
    server_id: int
    server: str
    name: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool
    destructive: bool
    default_policy: str

    @classmethod
    def of(cls, tool: McpTool) -> ToolOut:
        return cls(id=tool.id, server_id=tool.server_id, server=tool.server.name,
                   name=tool.name, description=tool.description,
                   input_schema=tool.input_schema, read_only=tool.read_only,
                   destructive=tool.destructive, default_policy=tool.default_policy.value)


class ServerOut(BaseModel):
    id: int
    name: str
    transport: str
    url: str
    stdio_name: str
    auth_header: str
    has_credential: bool
    status: str
    last_error: str
    listed_at: datetime | None
    tools: list[ToolOut]

    @classmethod
    def of(cls, server: McpServer) -> ServerOut:
        return cls(id=server.id, name=server.name, transport=server.transport, url=server.url,
                   stdio_name=server.stdio_name, auth_header=server.auth_header,
                   has_credential=server.has_credential, status=str(server.status),
                   last_error=server.last_error, listed_at=server.listed_at,
                   tools=[ToolOut.of(t) for t in server.tools])


class PolicyIn(BaseModel):
    policy: Text = Field(description="allowed, ask, off, or default (by the tool's hints)")


class AgentToolOut(BaseModel):
    tool: ToolOut
    policy: str

    @classmethod
    def of(cls, item: AgentTool) -> AgentToolOut:
        return cls(tool=ToolOut.of(item.tool), policy=item.policy.value)


class ToolCallOut(BaseModel):
    id: int
    task_id: int
    server: str
    tool: str
    arguments: dict[str, Any]
    reason: str
    status: str
    result: str
    note: str
    decided_by: str
    credits: int
    idempotency_key: str
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, call: ToolCall) -> ToolCallOut:
        return cls(id=call.id, task_id=call.task_id, server=call.server_name,
                   tool=call.tool_name, arguments=call.arguments, reason=call.reason,
                   status=str(call.status), result=call.result, note=call.note,
                   decided_by=call.decided_by, credits=call.credits,
                   idempotency_key=call.idempotency_key, created_at=call.created_at,
                   finished_at=call.finished_at)


class DecisionIn(BaseModel):
    """``arguments`` (approve only) replace the agent's; ``note`` goes with the decision."""

    arguments: Annotated[dict[str, Any] | None, TEXT_TREE] = None
    note: Text = Field(default="", max_length=2000)


class WebFetchIn(BaseModel):
    enabled: bool


class WebFetchOut(BaseModel):
    """``available``: the server admin allows web fetch; ``enabled``: the account's switch;
    ``offered``: both, so agents with a policy for ``tool_id`` get it."""

    available: bool
    enabled: bool
    offered: bool
    tool_id: int | None

    @classmethod
    def of(cls, state: WebFetchState) -> WebFetchOut:
        return cls(available=state.available, enabled=state.enabled,
                   offered=state.available and state.enabled, tool_id=state.tool_id)

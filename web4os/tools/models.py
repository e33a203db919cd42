"""Tables of the MCP registry: an account's servers, the tools they list, and which agent
may use which tool under which policy."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from web4os.db import Base, UTCDateTime, str_enum, utcnow


class ServerStatus(enum.StrEnum):
    NEW = "new"  # saved, not listed yet
    OK = "ok"  # its tools were listed
    ERROR = "error"  # the last connection failed (see last_error)


class ToolPolicy(enum.StrEnum):
    """What an agent may do with a tool."""

    ALLOWED = "allowed"  # runs when the agent asks
    ASK = "ask"  # the card waits for the operator to approve the exact call
    OFF = "off"  # never offered


class McpServer(Base):
    """An MCP server: streamable HTTP at ``url`` (an account's), or a stdio server the
    server admin configured (``stdio_name``; its command lives in the settings, never here),
    or web4os's own built-in tools (``builtin``), switched on per account (``enabled``)."""

    __tablename__ = "mcp_servers"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    url: Mapped[str] = mapped_column(String(500), default="")
    stdio_name: Mapped[str] = mapped_column(String(60), default="")
    builtin: Mapped[str] = mapped_column(String(40), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    auth_header: Mapped[str] = mapped_column(String(80), default="")
    credential_encrypted: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ServerStatus] = mapped_column(str_enum(ServerStatus, "mcp_server_status"),
                                                 default=ServerStatus.NEW)
    last_error: Mapped[str] = mapped_column(Text, default="")
    listed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tools: Mapped[list[McpTool]] = relationship(
        back_populates="server", cascade="all, delete-orphan", passive_deletes=True,
        order_by="McpTool.name")

    @property
    def has_credential(self) -> bool:
        return bool(self.credential_encrypted)

    @property
    def transport(self) -> str:
        if self.builtin:
            return "built-in"
        return "stdio" if self.stdio_name else "streamable-http"


class McpTool(Base):
    """A tool a server listed, with the schema of its arguments and its hints."""

    __tablename__ = "mcp_tools"
    __table_args__ = (UniqueConstraint("server_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("mcp_servers.id", ondelete="CASCADE"),
                                           index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    input_schema: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    destructive: Mapped[bool] = mapped_column(Boolean, default=True)
    listed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    server: Mapped[McpServer] = relationship(back_populates="tools")

    @property
    def default_policy(self) -> ToolPolicy:
        """Read-only tools run; destructive or unmarked ones wait for the operator."""
        return ToolPolicy.ALLOWED if self.read_only and not self.destructive else ToolPolicy.ASK

    @property
    def qualified_name(self) -> str:
        return f"{self.server.name}.{self.name}"


class AgentToolPolicy(Base):
    """One agent's access to one MCP tool (no row: the tool is off for that agent)."""

    __tablename__ = "agent_tool_policies"
    __table_args__ = (UniqueConstraint("agent_id", "tool_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"),
                                          index=True)
    tool_id: Mapped[int] = mapped_column(ForeignKey("mcp_tools.id", ondelete="CASCADE"),
                                         index=True)
    policy: Mapped[ToolPolicy] = mapped_column(str_enum(ToolPolicy, "tool_policy"),
                                               default=ToolPolicy.ASK)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    tool: Mapped[McpTool] = relationship()


class CallStatus(enum.StrEnum):
    AWAITING = "awaiting"  # an ask-first call: the card waits for the operator
    APPROVED = "approved"  # the operator said yes; the card's next run sends it
    STARTED = "started"  # recorded, then sent: a start without a result is in doubt
    DONE = "done"
    FAILED = "failed"  # the server or the tool said it failed
    DENIED = "denied"  # the operator said no (the note says why)
    IN_DOUBT = "in_doubt"  # started, no result (a worker died): the operator checks


# The operator decides these; the card stays in Needs you until they do.
WAITING_CALLS = frozenset({CallStatus.AWAITING, CallStatus.IN_DOUBT})


class ToolCall(Base):
    """One MCP tool call for a card: written before it is made, its result after."""

    __tablename__ = "tool_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    tool_id: Mapped[int | None] = mapped_column(
        ForeignKey("mcp_tools.id", ondelete="SET NULL"), nullable=True)
    server_name: Mapped[str] = mapped_column(String(60))
    tool_name: Mapped[str] = mapped_column(String(120))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    status: Mapped[CallStatus] = mapped_column(str_enum(CallStatus, "tool_call_status"),
                                               default=CallStatus.STARTED)
    result: Mapped[str] = mapped_column(Text, default="")
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)  # may simply be retried
    note: Mapped[str] = mapped_column(Text, default="")  # the operator's, with a decision
    decided_by: Mapped[str] = mapped_column(String(200), default="")
    credits: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

"""The MCP registry of an account: its servers, their listed tools, and which agent may
use which tool under which policy. Owners change it (the routes check the role); the
queries go through ``tenancy``, so another account's rows are simply not found. The
built-in tools (``tools.builtin``) share the registry; they are offered only while on."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import true
from sqlalchemy.orm import Session

from web4os import sealing as secrets
from web4os.agents.models import Agent
from web4os.config import get_settings
from web4os.db import utcnow
from web4os.errors import Conflict, DomainError, InvalidInput, NotFound
from web4os.netguard import AddressRefused, check_public_url
from web4os.tenancy import AccountId, get_owned, scoped
from web4os.tools import builtin, client
from web4os.tools.models import AgentToolPolicy, McpServer, McpTool, ServerStatus, ToolPolicy

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_HEADER_RE = re.compile(r"^[A-Za-z0-9-]{1,80}$")
# Headers the transport sets itself; a credential may not replace them.
_RESERVED_HEADERS = {"host", "content-length", "content-type", "accept", "mcp-session-id",
                     "mcp-protocol-version", "transfer-encoding", "connection"}


@dataclass(frozen=True)
class AgentTool:
    """A tool of the account as one agent sees it (``policy`` OFF: not enabled)."""

    tool: McpTool
    policy: ToolPolicy


def list_servers(session: Session, account_id: AccountId) -> list[McpServer]:
    """The account's MCP servers (not the built-in tools, which have their own switch)."""
    return list(session.scalars(scoped(McpServer, account_id)
                                .where(McpServer.builtin == "").order_by(McpServer.name)))


def get_server(session: Session, account_id: AccountId, server_id: int) -> McpServer:
    server = get_owned(session, McpServer, server_id, account_id)
    if server.builtin:  # not refreshed or removed as a server
        raise NotFound("No such mcpserver.")
    return server


def get_tool(session: Session, account_id: AccountId, tool_id: int) -> McpTool:
    """A tool the account may use now; a built-in one that is off is not found."""
    tool = get_owned(session, McpTool, tool_id, account_id)
    if not builtin.tool_offered(tool):
        raise NotFound("No such mcptool.")
    return tool


def stdio_choices() -> list[str]:
    """The stdio servers the server admin configured (an owner may add them by name)."""
    return sorted(get_settings().mcp_stdio_servers)


def _credential_header(auth_header: str, credential: str) -> tuple[str, str]:
    header = auth_header.strip() or ("Authorization" if credential else "")
    value = credential.strip()
    if not value:
        return "", ""
    if not _HEADER_RE.match(header) or header.lower() in _RESERVED_HEADERS:
        raise InvalidInput("Use a plain header name such as Authorization or X-Api-Key.",
                           field="auth_header")
    if any(c in value for c in "\r\n\0") or len(value) > 4000:
        raise InvalidInput("The credential must be one line (at most 4,000 characters).",
                           field="credential")
    if header.lower() == "authorization" and " " not in value:
        value = f"Bearer {value}"
    return header, value


def check_server_name(name: str) -> str:
    """A server's name as typed, lower-cased, or the refusal that names the field."""
    name = name.strip().lower()
    if not _NAME_RE.match(name):
        raise InvalidInput("Name it with lowercase letters, digits, - or _ (up to 40).",
                           field="name")
    if name == builtin.SERVER_NAME:
        raise InvalidInput(f"“{name}” is the name of web4os's built-in tools; choose another.",
                           field="name")
    return name


def add_server(session: Session, account_id: AccountId, *, name: str, url: str = "",
               auth_header: str = "", credential: str = "", stdio_name: str = "") -> McpServer:
    """Register a server. An account gives a streamable-HTTP URL (it must pass the address
    guard); a stdio server can only be one the server admin configured."""
    name = check_server_name(name)
    if session.scalars(scoped(McpServer, account_id).where(McpServer.name == name)).first():
        raise Conflict(f"This account already has a server called “{name}”.", field="name")
    server = McpServer(account_id=account_id, name=name)
    if stdio_name:
        client.stdio_params(stdio_name)  # refuses names the admin did not configure
        server.stdio_name = stdio_name
    else:
        url = url.strip()
        if len(url) > 500:
            raise InvalidInput("Keep the URL under 500 characters.", field="url")
        try:
            check_public_url(url)
        except AddressRefused as exc:
            raise InvalidInput(exc.message, field="url") from None
        header, value = _credential_header(auth_header, credential)
        server.url, server.auth_header = url, header
        server.credential_encrypted = secrets.encrypt(value)
    session.add(server)
    session.flush()
    return server


def remove_server(session: Session, account_id: AccountId, server_id: int) -> None:
    server = get_server(session, account_id, server_id)
    for tool in server.tools:  # SQLite without foreign-key enforcement: delete explicitly
        for row in session.scalars(scoped(AgentToolPolicy, account_id)
                                   .where(AgentToolPolicy.tool_id == tool.id)):
            session.delete(row)
    session.delete(server)
    session.flush()


def target_of(server: McpServer) -> client.Target:
    """How to reach ``server``: its own URL with its own credential, or the admin's stdio."""
    if server.stdio_name:
        return client.Target(stdio=client.stdio_params(server.stdio_name))
    headers = {}
    if server.credential_encrypted:
        headers[server.auth_header] = secrets.decrypt(server.credential_encrypted)
    return client.Target(url=server.url, headers=headers)


def refresh_tools(session: Session, account_id: AccountId, server_id: int) -> McpServer:
    """List the server's tools again and store them. A failure is recorded on the server
    (status and last error), not raised: the page shows it next to the server."""
    server = get_server(session, account_id, server_id)
    try:
        listed = client.list_tools(target_of(server))
    except DomainError as exc:
        server.status, server.last_error = ServerStatus.ERROR, exc.message[:1000]
        session.flush()
        return server
    _store_tools(session, account_id, server, listed)
    server.status, server.last_error, server.listed_at = ServerStatus.OK, "", utcnow()
    session.flush()
    return server


def _store_tools(session: Session, account_id: AccountId, server: McpServer,
                 listed: list[client.ListedTool]) -> None:
    known = {t.name: t for t in server.tools}
    seen: set[str] = set()
    for item in listed:
        if item.name in seen:
            continue
        seen.add(item.name)
        tool = known.get(item.name)
        if tool is None:
            server.tools.append(McpTool(account_id=account_id, name=item.name))
            tool = server.tools[-1]
        elif tool.read_only and not item.read_only:
            _no_longer_read_only(session, account_id, tool)
        tool.description, tool.input_schema = item.description, item.input_schema
        tool.read_only, tool.destructive, tool.listed_at = (item.read_only, item.destructive,
                                                            utcnow())
    for name, tool in known.items():
        if name not in seen:
            for row in session.scalars(scoped(AgentToolPolicy, account_id)
                                       .where(AgentToolPolicy.tool_id == tool.id)):
                session.delete(row)
            server.tools.remove(tool)


def _no_longer_read_only(session: Session, account_id: AccountId, tool: McpTool) -> None:
    """A tool that now may change things waits for the operator again, wherever it ran freely."""
    for row in session.scalars(scoped(AgentToolPolicy, account_id)
                               .where(AgentToolPolicy.tool_id == tool.id,
                                      AgentToolPolicy.policy == ToolPolicy.ALLOWED)):
        row.policy = ToolPolicy.ASK


def account_tools(session: Session, account_id: AccountId) -> list[McpTool]:
    """Every tool the account's servers listed and the built-in tools that are on (the file
    reader always), by server and name."""
    stmt = (scoped(McpTool, account_id).join(McpServer, McpServer.id == McpTool.server_id)
            .where((McpServer.enabled == true()) | (McpServer.builtin != ""))
            .order_by(McpServer.name, McpTool.name))
    return [t for t in session.scalars(stmt) if builtin.tool_offered(t)]


def agent_tools(session: Session, account_id: AccountId, agent_id: int) -> list[AgentTool]:
    """All the account's tools with this agent's policy for each (OFF where none is set)."""
    agent = get_owned(session, Agent, agent_id, account_id)
    policies = {p.tool_id: p.policy for p in session.scalars(
        scoped(AgentToolPolicy, account_id).where(AgentToolPolicy.agent_id == agent.id))}
    return [AgentTool(t, ToolPolicy(policies.get(t.id, ToolPolicy.OFF)))
            for t in account_tools(session, account_id)]


def enabled_tools(session: Session, account_id: AccountId, agent_id: int) -> list[AgentTool]:
    """The tools this agent may use (allowed or ask first)."""
    return [t for t in agent_tools(session, account_id, agent_id) if t.policy != ToolPolicy.OFF]


def set_policy(session: Session, account_id: AccountId, agent_id: int, tool_id: int,
               policy: str) -> AgentTool:
    """Set one agent's policy for one tool; ``"default"`` enables it with the tool's default
    (read-only: allowed; destructive or unmarked: ask first)."""
    agent = get_owned(session, Agent, agent_id, account_id)
    tool = get_tool(session, account_id, tool_id)
    if policy == "default":
        chosen = tool.default_policy
    else:
        try:
            chosen = ToolPolicy(policy)
        except ValueError:
            raise InvalidInput("Choose allowed, ask, off or default.", field="policy") from None
    row = session.scalars(scoped(AgentToolPolicy, account_id).where(
        AgentToolPolicy.agent_id == agent.id, AgentToolPolicy.tool_id == tool.id)).first()
    if chosen == ToolPolicy.OFF:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(AgentToolPolicy(account_id=account_id, agent_id=agent.id, tool_id=tool.id,
                                    policy=chosen))
    else:
        row.policy = chosen
    session.flush()
    return AgentTool(tool, chosen)


def policy_rows(session: Session, account_id: AccountId) -> list[AgentToolPolicy]:
    """Every policy of the account (the roster page shows each agent's enabled tools)."""
    return list(session.scalars(scoped(AgentToolPolicy, account_id)))

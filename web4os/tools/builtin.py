"""web4os's built-in tools, beside an account's MCP servers: the web fetch and the file
reader.

They live on one built-in server row of the account (named ``web4os``), so per-agent
policies, recorded and metered calls, approvals and the card's timeline are those of MCP
tools. The web fetch reaches outside, so it has an account switch (the server row's
``enabled``), off until an owner turns it on; ``WEB4OS_WEB_FETCH_ENABLED=false`` hides it
from every account. The file reader has no switch: it reads only the account's own files
(the card's goal and the account's knowledge), nothing leaves the account, and each agent
still gets it only when an owner enables it for that agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from web4os.agents.webfetch import WebFetchDisabled, fetch_for_agent
from web4os.config import get_settings
from web4os.db import utcnow
from web4os.errors import Conflict, DomainError
from web4os.files import pages
from web4os.netguard import AddressRefused
from web4os.tenancy import AccountId, scoped, tenant_session
from web4os.tools.client import CallOutcome
from web4os.tools.models import McpServer, McpTool, ServerStatus

WEB_FETCH = "web_fetch"
READ_FILE = "read_file"
SERVER_NAME = "web4os"  # reserved: an account cannot name an MCP server so
BUILTIN = "web4os"  # the server row's ``builtin`` mark
WEB_FETCH_DESCRIPTION = (
    "GET one public http(s) web page and read its text (HTML reduced to text). Private, "
    "loopback and cloud metadata addresses are refused; size and time are limited.")
WEB_FETCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"url": {"type": "string", "format": "uri",
                           "description": "The http or https URL to GET."}},
    "required": ["url"],
}
READ_FILE_DESCRIPTION = (
    f"Read one of the goal's files or the account's knowledge files by its name, one page "
    f"({pages.PAGE_CHARS:,} characters of its text) at a time; the answer says “page N of "
    "M”, so ask again for the next page.")
READ_FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string", "description": "The file's name, as listed."},
                   "page": {"type": "integer", "minimum": 1,
                            "description": "Which page, from 1."}},
    "required": ["name", "page"],
}
_TOOLS = {WEB_FETCH: (WEB_FETCH_DESCRIPTION, WEB_FETCH_SCHEMA),
          READ_FILE: (READ_FILE_DESCRIPTION, READ_FILE_SCHEMA)}


@dataclass(frozen=True)
class WebFetchState:
    """``available``: the server admin allows web fetch; ``enabled``: the account's switch;
    ``tool_id``: the tool agents get policies for (None until first turned on)."""

    available: bool
    enabled: bool
    tool_id: int | None


def tool_offered(tool: McpTool) -> bool:
    """Whether agents may be offered ``tool`` now: an MCP server's while it is on; the web
    fetch while the account's switch and the server admin allow it; the file reader always."""
    server = tool.server
    if not server.builtin:
        return server.enabled
    if tool.name == WEB_FETCH:
        return server.enabled and get_settings().web_fetch_enabled
    return tool.name == READ_FILE


def _server(session: Session, account_id: AccountId) -> McpServer | None:
    return session.scalars(scoped(McpServer, account_id)
                           .where(McpServer.builtin != "")).first()


def _tool(server: McpServer | None, name: str) -> McpTool | None:
    return next((t for t in server.tools if t.name == name), None) if server else None


def _add_tool(server: McpServer, name: str) -> McpTool:
    description, schema = _TOOLS[name]
    tool = McpTool(account_id=server.account_id, name=name, description=description,
                   input_schema=schema, read_only=True, destructive=False)
    server.tools.append(tool)
    return tool


def builtin_server(session: Session, account_id: AccountId) -> McpServer | None:
    """The account's built-in server with its file reader (made with the account, the web
    fetch off; migration 0010 gave it to older accounts), or None while an MCP server the
    account added holds the name ``web4os``. Two requests making it at once: the second
    finds the first's."""
    server = _server(session, account_id)
    if server is not None and _tool(server, READ_FILE) is not None:
        return server
    if server is None and session.scalars(scoped(McpServer, account_id)
                                          .where(McpServer.name == SERVER_NAME)).first():
        return None
    try:
        with session.begin_nested():
            if server is None:
                server = McpServer(account_id=account_id, name=SERVER_NAME, builtin=BUILTIN,
                                   enabled=False, status=ServerStatus.OK, listed_at=utcnow())
                session.add(server)
            _add_tool(server, READ_FILE)
            session.flush()
    except IntegrityError:
        session.expire_all()
        return _server(session, account_id)
    return server


def web_fetch_state(session: Session, account_id: AccountId) -> WebFetchState:
    server = _server(session, account_id)
    tool = _tool(server, WEB_FETCH)
    return WebFetchState(available=get_settings().web_fetch_enabled,
                         enabled=server is not None and tool is not None and server.enabled,
                         tool_id=tool.id if tool is not None else None)


def set_web_fetch(session: Session, account_id: AccountId, enabled: bool) -> WebFetchState:
    """Turn the account's web fetch on or off. Agents' policies are kept while it is off,
    so turning it on again gives each agent back what it had."""
    if not get_settings().web_fetch_enabled:
        raise WebFetchDisabled()
    server = builtin_server(session, account_id) if enabled else _server(session, account_id)
    if server is None and enabled:
        raise Conflict(f"Rename the MCP server “{SERVER_NAME}” first: built-in tools "
                       "use that name.")
    if server is not None:
        if enabled and _tool(server, WEB_FETCH) is None:
            _add_tool(server, WEB_FETCH)
        server.enabled = enabled
    session.flush()
    return web_fetch_state(session, account_id)


def _result_text(url: str) -> CallOutcome:
    settings = get_settings()
    try:
        page = fetch_for_agent(url, settings=settings)
    except AddressRefused as exc:
        return CallOutcome(f"Refused by web4os's address guard: {exc.message}", True)
    except DomainError as exc:  # off on this server, unreachable, not text
        return CallOutcome(exc.message, True)
    text = f"{page.final_url} · HTTP {page.status} · {page.content_type}\n\n{page.text}"
    limit = settings.mcp_max_result_chars
    if len(text) > limit:
        text = text[:limit] + " …(truncated)"
    return CallOutcome(text, page.status >= 400)


def _read_file(account_id: AccountId, goal_id: int, arguments: dict[str, Any]) -> CallOutcome:
    name, page = arguments.get("name"), arguments.get("page", 1)
    if not isinstance(name, str) or not name.strip():
        return CallOutcome("Not run: give the file's name as “name”.", True)
    if isinstance(page, str) and page.strip().isdigit():
        page = int(page)
    if not isinstance(page, int) or isinstance(page, bool):
        return CallOutcome("Not run: give the page as a whole number (“page”: 1).", True)
    try:
        with tenant_session(account_id) as s:
            found = pages.read_page(s, account_id, goal_id, name, page)
    except DomainError as exc:  # no such file, no text, no such page
        return CallOutcome(exc.message, True)
    return CallOutcome(f"{found.header()}\n\n{found.text}", False)


def run_builtin(tool_name: str, switched_on: bool, arguments: dict[str, Any], *,
                account_id: AccountId, goal_id: int) -> CallOutcome:
    """Run a built-in tool for a recorded call of a card of ``goal_id``. A refusal (the
    address guard, the switch, a file that is not there) is the call's result, for the
    agent to read, not an error of the card."""
    if tool_name == READ_FILE:
        return _read_file(account_id, goal_id, arguments)
    if tool_name != WEB_FETCH:
        return CallOutcome(f"web4os has no built-in tool “{tool_name}”.", True)
    if not switched_on:
        return CallOutcome("Not run: web fetch is turned off for this account.", True)
    url = arguments.get("url")
    if not isinstance(url, str) or not url.strip():
        return CallOutcome("Not run: give the URL to fetch as “url”.", True)
    return _result_text(url)

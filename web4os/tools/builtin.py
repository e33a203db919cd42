"""web4os's built-in tools, beside an account's MCP servers: the web fetch.

The web fetch is stored as a built-in server of the account with one read-only tool, so
per-agent policies, recorded and metered calls, approvals and the card's timeline are
those of MCP tools. It is off until an owner turns it on for the account (the server
row's ``enabled``); ``WEB4OS_WEB_FETCH_ENABLED=false`` hides it from every account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from web4os.agents.webfetch import WebFetchDisabled, fetch_for_agent
from web4os.config import get_settings
from web4os.db import utcnow
from web4os.errors import Conflict, DomainError
from web4os.netguard import AddressRefused
from web4os.tenancy import AccountId, scoped
from web4os.tools.client import CallOutcome
from web4os.tools.models import McpServer, McpTool, ServerStatus

WEB_FETCH = "web_fetch"  # the builtin kind, and the tool's name
SERVER_NAME = "web4os"  # reserved: an account cannot name an MCP server so
WEB_FETCH_DESCRIPTION = (
    "GET one public http(s) web page and read its text (HTML reduced to text). Private, "
    "loopback and cloud metadata addresses are refused; size and time are limited.")
WEB_FETCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"url": {"type": "string", "format": "uri",
                           "description": "The http or https URL to GET."}},
    "required": ["url"],
}


@dataclass(frozen=True)
class WebFetchState:
    """``available``: the server admin allows web fetch; ``enabled``: the account's switch;
    ``tool_id``: the tool agents get policies for (None until first turned on)."""

    available: bool
    enabled: bool
    tool_id: int | None


def server_admin_allows(builtin: str) -> bool:
    return builtin != WEB_FETCH or get_settings().web_fetch_enabled


def _server(session: Session, account_id: AccountId) -> McpServer | None:
    return session.scalars(scoped(McpServer, account_id)
                           .where(McpServer.builtin == WEB_FETCH)).first()


def web_fetch_state(session: Session, account_id: AccountId) -> WebFetchState:
    server = _server(session, account_id)
    return WebFetchState(available=get_settings().web_fetch_enabled,
                         enabled=server is not None and server.enabled,
                         tool_id=server.tools[0].id if server is not None and server.tools
                         else None)


def set_web_fetch(session: Session, account_id: AccountId, enabled: bool) -> WebFetchState:
    """Turn the account's web fetch on or off. Agents' policies are kept while it is off,
    so turning it on again gives each agent back what it had."""
    if not get_settings().web_fetch_enabled:
        raise WebFetchDisabled()
    server = _server(session, account_id)
    if server is None and enabled:
        if session.scalars(scoped(McpServer, account_id)
                           .where(McpServer.name == SERVER_NAME)).first():
            raise Conflict(f"Rename the MCP server “{SERVER_NAME}” first: built-in tools "
                           "use that name.")
        server = McpServer(account_id=account_id, name=SERVER_NAME, builtin=WEB_FETCH,
                           status=ServerStatus.OK, listed_at=utcnow())
        server.tools.append(McpTool(account_id=account_id, name=WEB_FETCH,
                                    description=WEB_FETCH_DESCRIPTION,
                                    input_schema=WEB_FETCH_SCHEMA, read_only=True,
                                    destructive=False))
        session.add(server)
    if server is not None:
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


def run_builtin(builtin: str, enabled: bool, arguments: dict[str, Any]) -> CallOutcome:
    """Run a built-in tool for a recorded call. A refusal (the address guard, the switch)
    is the call's result, for the agent to read, not an error of the card."""
    if builtin != WEB_FETCH:
        return CallOutcome(f"web4os has no built-in tool “{builtin}”.", True)
    if not enabled:
        return CallOutcome("Not run: web fetch is turned off for this account.", True)
    url = arguments.get("url")
    if not isinstance(url, str) or not url.strip():
        return CallOutcome("Not run: give the URL to fetch as “url”.", True)
    return _result_text(url)

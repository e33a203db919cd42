"""Talking to MCP servers with the official ``mcp`` SDK: list a server's tools, call one.

Sync wrappers around the SDK's async client, for services and jobs. Every connection to
an account's server passes the address guard, checked again inside the connection and
pinned to the vetted address (``tools.pinned``), and
its credential header goes only to that server: the SDK follows a redirect only within
the server's origin. Stdio servers come only from the server admin's settings.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import httpx2
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import PaginatedRequestParams

from web4os.config import get_settings
from web4os.errors import DomainError, InvalidInput
from web4os.green import is_green, run_apart
from web4os.netguard import check_public_url
from web4os.tools.pinned import pinned_client

T = TypeVar("T")
MAX_TOOLS = 200
MAX_PAGES = 20


class ServerUnreachable(DomainError):
    """The MCP server could not be reached or did not answer as an MCP server."""

    status_code = 502


@dataclass(frozen=True)
class Target:
    """Where and how to connect: a URL with headers, or an admin-configured stdio server."""

    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    stdio: StdioServerParameters | None = None


@dataclass(frozen=True)
class ListedTool:
    name: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool
    destructive: bool


@dataclass(frozen=True)
class CallOutcome:
    """A tool's answer as text (truncated), and whether the tool said it failed."""

    text: str
    is_error: bool


def stdio_params(name: str) -> StdioServerParameters:
    """The server admin's stdio server ``name`` (``WEB4OS_MCP_STDIO_SERVERS``)."""
    spec = get_settings().mcp_stdio_servers.get(name)
    if not isinstance(spec, dict) or not spec.get("command"):
        raise InvalidInput(f"The server admin has not configured a stdio MCP server “{name}”.",
                           field="stdio_name")
    return StdioServerParameters(command=str(spec["command"]),
                                 args=[str(a) for a in spec.get("args", [])],
                                 env={str(k): str(v) for k, v in spec.get("env", {}).items()}
                                 or None)


@asynccontextmanager
async def _session(target: Target) -> AsyncIterator[ClientSession]:
    if target.stdio is not None:
        async with stdio_client(target.stdio) as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            yield session
        return
    check_public_url(target.url)
    timeout = httpx2.Timeout(get_settings().mcp_timeout_seconds)
    async with pinned_client(headers=target.headers, timeout=timeout,
                             follow_redirects=False) as http, \
            streamable_http_client(target.url, http_client=http) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        yield session


def _listed(tool: Any) -> ListedTool:
    hints = tool.annotations
    read_only = bool(hints and hints.read_only_hint)
    # MCP's defaults: not read-only, destructive unless the server says otherwise.
    destructive = not read_only and (hints is None or hints.destructive_hint is not False)
    return ListedTool(name=str(tool.name)[:120], description=str(tool.description or "")[:2000],
                      input_schema=dict(tool.input_schema or {"type": "object"}),
                      read_only=read_only, destructive=destructive)


async def _list(target: Target) -> list[ListedTool]:
    tools: list[ListedTool] = []
    with anyio.fail_after(get_settings().mcp_timeout_seconds):
        async with _session(target) as session:
            cursor: str | None = None
            for _ in range(MAX_PAGES):
                page = await session.list_tools(
                    params=None if cursor is None else PaginatedRequestParams(cursor=cursor))
                tools.extend(_listed(t) for t in page.tools)
                cursor = page.next_cursor
                if not cursor or len(tools) >= MAX_TOOLS:
                    break
    return tools[:MAX_TOOLS]


def _text_of(result: Any, limit: int) -> str:
    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        text = getattr(block, "text", None)
        parts.append(text if isinstance(text, str) else f"[{getattr(block, 'type', 'content')}]")
    if not parts and getattr(result, "structured_content", None) is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    text = "\n".join(parts)
    return text if len(text) <= limit else text[:limit] + " …(truncated)"


async def _call(target: Target, name: str, arguments: dict[str, Any]) -> CallOutcome:
    settings = get_settings()
    with anyio.fail_after(settings.mcp_timeout_seconds):
        async with _session(target) as session:
            result = await session.call_tool(name, arguments)
    return CallOutcome(_text_of(result, settings.mcp_max_result_chars),
                       bool(getattr(result, "is_error", False)))


def _explain(exc: BaseException) -> str:
    """The innermost plain reason of an SDK failure (task groups wrap them)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, TimeoutError):
        return "the server did not answer in time"
    return (str(exc) or type(exc).__name__)[:500]


def _run(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run the SDK's coroutine to its end from sync code; on a thread of its own when this
    thread already runs an event loop (an async route, a test driving a browser), or in a
    gevent worker, where the job's greenlet shares its thread with other jobs' loops."""
    if is_green():
        result: T = run_apart(anyio.run, fn, *args)
        return result
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.run(fn, *args)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, fn, *args).result()


def list_tools(target: Target) -> list[ListedTool]:
    """Connect, initialise and list the server's tools (bounded in time and number)."""
    try:
        return _run(_list, target)
    except DomainError:
        raise
    except Exception as exc:  # the SDK raises many kinds (in groups); all mean "unreachable"
        raise ServerUnreachable(f"The MCP server could not be listed: {_explain(exc)}") from None


def call_tool(target: Target, name: str, arguments: dict[str, Any]) -> CallOutcome:
    """Connect and call one tool; its answer as text, cut at ``mcp_max_result_chars``."""
    try:
        return _run(_call, target, name, arguments)
    except DomainError:
        raise
    except Exception as exc:
        raise ServerUnreachable(f"The MCP tool call failed: {_explain(exc)}") from None

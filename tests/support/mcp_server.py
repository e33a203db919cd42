"""A real MCP server for the tests, built with the official SDK: a read tool and a tool
with a side effect (it appends a line to a file the test reads).

An order of the item "slow" is placed at once and answered only after 30 s.

Run as ``python -m tests.support.mcp_server --port N --journal PATH [--token T]`` for
streamable HTTP on 127.0.0.1 (``--token`` makes it refuse requests without
``Authorization: Bearer T``), or with ``--stdio`` over standard input and output.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

INVENTORY = {"flour": 12, "sugar": 3, "butter": 0}


def build(journal: Path) -> MCPServer:
    server = MCPServer("bakery-test")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, destructive_hint=False))
    def stock_level(item: str) -> str:
        """How many units of an item the bakery has in stock."""
        return f"{item}: {INVENTORY.get(item.lower(), 0)} units in stock"

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True))
    def place_order(item: str, quantity: int) -> str:
        """Order more of an item from the supplier (this really orders)."""
        with journal.open("a", encoding="utf-8") as f:
            f.write(f"order {item} {quantity}\n")
        if item == "slow":  # the order is placed; the answer takes long (a worker dies meanwhile)
            time.sleep(30)
        return f"ordered {quantity} x {item}"

    @server.tool()
    def unmarked(text: str) -> str:
        """A tool without hints (treated as possibly destructive)."""
        return text

    return server


class RequireBearer:
    """Refuses every request without the expected bearer token (401)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            auth = Request(scope).headers.get("authorization", "")
            if auth != f"Bearer {self.token}":
                response: Response = JSONResponse({"error": "unauthorized"}, status_code=401)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--journal", type=Path, required=True)
    parser.add_argument("--token", default="")
    parser.add_argument("--stdio", action="store_true")
    args = parser.parse_args()
    server = build(args.journal)
    if args.stdio:
        server.run("stdio")
        return
    import uvicorn

    app: ASGIApp = server.streamable_http_app(stateless_http=True, json_response=True)
    if args.token:
        app = RequireBearer(app, args.token)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()


class RunningServer:
    """The test server in a subprocess on a free loopback port; ``journal`` lists its orders."""

    def __init__(self, journal: Path, token: str = "") -> None:
        import socket
        import subprocess
        import sys
        import time

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.journal, self.token = journal, token
        cmd = [sys.executable, "-m", "tests.support.mcp_server", "--port", str(self.port),
               "--journal", str(journal)] + (["--token", token] if token else [])
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the test MCP server exited")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the test MCP server did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def orders(self) -> list[str]:
        return self.journal.read_text().splitlines() if self.journal.exists() else []

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except Exception:
            self.process.kill()
            self.process.wait()

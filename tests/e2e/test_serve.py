"""The README's first command, as a new user runs it: ``web4os serve`` with no
configuration (SQLite, the in-process runner, the offline model), then sign up, submit a
goal and watch it finish, over HTTP. The only test that runs the real command, with the
runner its start-up builds (turns, sweeper, checkpoints)."""

from __future__ import annotations

import html
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import csrf_from


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEB4OS_")}
    env["WEB4OS_DATA_DIR"] = str(tmp_path)  # nothing else: the embedded default
    proc = subprocess.Popen([sys.executable, "-c", "from web4os.cli import main; main()",
                             "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code in (200, 503):
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read() if proc.stdout else ""
                pytest.fail(f"web4os serve did not start:\n{out}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_a_new_user_signs_up_and_a_goal_runs_to_the_end(served: str) -> None:
    with httpx.Client(base_url=served, follow_redirects=True, timeout=10) as client:
        page = client.get("/signup")
        resp = client.post("/signup", data={
            "account_name": "Rosie's Bakery", "display_name": "Rosie",
            "email": "rosie@example.com", "password": "flour and sugar 42",
            "csrf_token": csrf_from(page.text)})
        assert resp.status_code == 200 and "Offline model" in resp.text

        home = client.get("/")
        resp = client.post("/goals", data={"title": "Launch a newsletter for our bakery",
                                           "csrf_token": csrf_from(home.text)})
        assert resp.status_code == 200
        goal_url = str(resp.url.path)
        assert re.fullmatch(r"/goals/\d+", goal_url)

        deadline = time.monotonic() + 60
        while True:
            board = html.unescape(client.get(f"{goal_url}/board").text)
            status = re.search(r'id="goal-status">([a-z_]+)<', board)
            if status and status.group(1) in ("completed", "failed", "cancelled"):
                break
            assert time.monotonic() < deadline, f"the goal is still {status and status.group(1)}"
            time.sleep(0.5)
        assert status.group(1) == "completed"
        cards = re.findall(r'<article class="card card-(\w+)"', board)
        assert len(cards) >= 3 and set(cards) == {"done"}, cards


def test_the_server_does_not_name_itself(served: str) -> None:
    """No ``Server: uvicorn``; the security headers come from the app on every answer."""
    for path in ("/login", "/no/such/page", "/healthz"):
        resp = httpx.get(f"{served}{path}", timeout=10)
        assert "server" not in resp.headers, (path, resp.headers.get("server"))
        assert resp.headers["X-Content-Type-Options"] == "nosniff"

"""The README's first command, as a new user runs it: ``web4os serve`` with no
configuration (SQLite, the in-process runner, the offline model), then sign up, submit a
goal and watch it finish, over HTTP. The only test that runs the real command, with the
runner its start-up builds (turns, sweeper, checkpoints)."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import csrf_from
from tests.support.serve import serve


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    with serve(tmp_path) as url:  # nothing but the data directory: the embedded default
        yield url


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
            status = re.search(r'id="goal-status" data-status="([a-z_]+)"', board)
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


def test_each_request_prints_one_access_line_with_secrets_blanked(served: str, tmp_path: Path) -> None:
    """The console shows what the server answered, exactly once per request, and never the
    token of an invite link (whoever reads the log could use it)."""
    for path in ("/login", "/no/such/page", "/invite/s3cret-invite-token", "/healthz?probe=1"):
        httpx.get(f"{served}{path}", timeout=10)
    # serve() waited for the first /healthz answer, so that probe is the first line
    expected = [("/healthz", "200"), ("/login", "200"), ("/no/such/page", "404"),
                ("/invite/…", "410"), ("/healthz?probe=1", "200")]
    log = tmp_path / "serve.log"
    deadline = time.monotonic() + 5
    while True:
        text = log.read_text()
        logged = re.findall(r'"GET (\S+) HTTP/1\.1" (\d{3})', text)
        if len(logged) >= len(expected) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert logged == expected, text
    assert "s3cret" not in text

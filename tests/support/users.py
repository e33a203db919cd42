"""Several people using one server at once, each a whole session over HTTP: sign up,
open home, submit a goal by form, make an API token, submit a goal over the API, open
the board, the inbox and the usage page. Shared by the concurrent-users test and
``bench/users.py``.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

# What the server needs for these sessions: each person's forwarded address is believed
# (the server is reached from 127.0.0.1), and each new account can pay for its goals.
SERVER_ENV = {"WEB4OS_TRUSTED_PROXIES": "127.0.0.1", "WEB4OS_SIGNUP_CREDIT_GRANT": "1000"}

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_SECRET = re.compile(r'id="new-token" class="secret" type="text" readonly value="([^"]+)"')


class SessionBroken(Exception):
    """A step answered something other than what a working server answers."""


@dataclass
class TimedRequest:
    step: str
    status: int  # 0: no answer (timeout or connection error)
    seconds: float


@dataclass
class UserSession:
    number: int
    requests: list[TimedRequest] = field(default_factory=list)
    finished: bool = False
    problem: str = ""


@dataclass
class Results:
    sessions: list[UserSession]
    wall_seconds: float

    @property
    def requests(self) -> list[TimedRequest]:
        return [r for s in self.sessions for r in s.requests]

    @property
    def server_errors(self) -> list[TimedRequest]:
        """5xx answers, and requests that got no answer at all."""
        return [r for r in self.requests if r.status == 0 or r.status >= 500]

    @property
    def finished(self) -> int:
        return sum(s.finished for s in self.sessions)

    def problems(self) -> list[str]:
        return [f"session {s.number}: {s.problem}" for s in self.sessions if s.problem]


class _Client:
    """One person's browser (cookies) plus their API client, timing every request."""

    def __init__(self, base_url: str, session: UserSession, timeout: float, address: str) -> None:
        # Each person comes from their own address, as people do (the server's per-address
        # limits then see them apart); the server trusts the header from 127.0.0.1.
        headers = {"X-Forwarded-For": address}
        self.http = httpx.Client(base_url=base_url, timeout=timeout, headers=headers)
        self.session = session

    def call(self, step: str, method: str, path: str, expect: int, **kw: object) -> httpx.Response:
        started = time.perf_counter()
        try:
            resp = self.http.request(method, path, **kw)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            self.session.requests.append(TimedRequest(step, 0, time.perf_counter() - started))
            raise SessionBroken(f"{step}: no answer ({type(exc).__name__})") from exc
        self.session.requests.append(TimedRequest(step, resp.status_code,
                                             time.perf_counter() - started))
        if resp.status_code != expect:
            raise SessionBroken(f"{step}: {resp.status_code}, expected {expect}")
        return resp


def _csrf(resp: httpx.Response, step: str) -> str:
    m = _CSRF.search(resp.text)
    if m is None:
        raise SessionBroken(f"{step}: no CSRF token on the page")
    return m.group(1)


def _goal_path(resp: httpx.Response, step: str) -> str:
    location = str(resp.headers.get("location", ""))
    if not re.fullmatch(r"/goals/\d+", location):
        raise SessionBroken(f"{step}: redirected to {location!r}")
    return location


def _whole_session(c: _Client, tag: str) -> None:
    page = c.call("signup page", "GET", "/signup", 200)
    resp = c.call("sign up", "POST", "/signup", 303, data={
        "account_name": f"Bakery {tag}", "display_name": f"Baker {tag}",
        "email": f"baker-{tag}@example.com", "password": "flour and sugar 42",
        "csrf_token": _csrf(page, "signup page")})
    home = c.call("home", "GET", resp.headers["location"], 200)
    resp = c.call("goal by form", "POST", "/goals", 303, data={
        "title": f"Launch a newsletter for bakery {tag}", "csrf_token": _csrf(home, "home")})
    board = _goal_path(resp, "goal by form")
    settings = c.call("settings", "GET", "/settings", 200)
    resp = c.call("make a token", "POST", "/settings/tokens", 200, data={
        "token_name": "Zapier", "role": "operator", "csrf_token": _csrf(settings, "settings")})
    secret = _SECRET.search(resp.text)
    if secret is None:
        raise SessionBroken("make a token: the new token is not on the page")
    resp = c.call("goal by API", "POST", "/api/v1/goals", 201,
                  json={"title": f"Plan a spring promotion for {tag}"},
                  headers={"Authorization": f"Bearer {secret.group(1)}"})
    c.call("board", "GET", board, 200)
    c.call("board (live)", "GET", f"{board}/board", 200, headers={"HX-Request": "true"})
    c.call("inbox", "GET", "/inbox", 200)
    c.call("usage", "GET", "/usage", 200)


def run_session(base_url: str, number: int, *, timeout: float, run_tag: str) -> UserSession:
    session = UserSession(number)
    c = _Client(base_url, session, timeout, address=f"10.0.{number // 250}.{number % 250 + 1}")
    try:
        _whole_session(c, f"{run_tag}-{number}")
        session.finished = True
    except SessionBroken as exc:
        session.problem = str(exc)
    finally:
        c.http.close()
    return session


def run_sessions(base_url: str, sessions: int, concurrency: int, *, timeout: float = 120.0,
                 run_tag: str = "") -> Results:
    """``sessions`` whole sessions, ``concurrency`` at a time (one thread each)."""
    run_tag = run_tag or str(time.time_ns())
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        done = list(pool.map(lambda n: run_session(base_url, n, timeout=timeout,
                                                   run_tag=run_tag), range(sessions)))
    return Results(done, time.perf_counter() - started)

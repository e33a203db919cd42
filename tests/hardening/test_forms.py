"""Hostile form posts on every HTML POST route: oversized, chunked, malformed, non-UTF-8,
huge fields, files where text is expected, no CSRF token, and random field soup.

The routes are read from the app itself, so pages added later are covered without
editing this file. Every answer must be a clear 4xx (or the normal redirect/page), never a
5xx; an error page must say what went wrong, not show a traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_planned_goal, plan_of
from web4os.accounts.models import User
from web4os.accounts.service import start_session
from web4os.agents.models import Agent, Note
from web4os.app import MAX_BODY_BYTES, create_app
from web4os.db import session_factory
from web4os.goals.models import Task
from web4os.workers.embedded import EmbeddedRunner

APP = create_app(start_worker=False)


def _routes(routes: list[Any]) -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every endpoint, through FastAPI's lazily included routers too."""
    for r in routes:
        if hasattr(r, "effective_route_contexts"):  # FastAPI ≥ 0.16x: an included router
            yield from ((c.path, set(c.methods or ())) for c in r.effective_route_contexts())
        elif isinstance(r, APIRoute):
            yield r.path, set(r.methods or ())


POST_ROUTES = sorted({path for path, methods in _routes(APP.routes)
                      if "POST" in methods and not path.startswith("/api/")})
FIELDS = ("title", "brief", "instructions", "feedback", "email", "password", "display_name",
          "account_name", "name", "role", "agent_id", "amount", "credits", "reason", "body",
          "cap", "model", "base_url", "token", "next", "account_id", "require_approval", "kind",
          "agent_ids")
FORM = "application/x-www-form-urlencoded"


def test_routes_were_found() -> None:
    assert "/goals" in POST_ROUTES and "/login" in POST_ROUTES
    assert any("{task_id}" in p for p in POST_ROUTES)


@dataclass
class World:
    client: TestClient
    user: User
    ids: dict[str, int]

    def login(self) -> str:
        """A fresh session per request (a post may log out, switch or suspend); its CSRF token."""
        with session_factory()() as s:  # immediate: a job may be writing at the same time
            new = start_session(s, s.get(User, self.user.id))  # type: ignore[arg-type]
            s.commit()
        self.client.cookies.clear()
        self.client.cookies.set("w4_session", new.token)
        return new.row.csrf_token

    def url(self, path: str) -> str:
        def value(m: re.Match[str]) -> str:
            name = m.group(1)
            if name == "action":
                return "edit"
            return str(self.ids.get(name, 1)) if name.endswith("id") else "x"

        return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


@pytest.fixture
def world(db: Session, tenant: Tenant, runner: EmbeddedRunner) -> Iterator[World]:
    """The owner (also a platform admin, so admin pages are reached) with a goal, cards,
    a note and the default roster; path ids point at these rows."""
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []), ("b", "writer", ["a"])))
    tenant.owner.is_platform_admin = True
    db.add(Note(account_id=tenant.id, title="Opening hours", body="8-18"))
    db.commit()
    task = db.scalars(select(Task).where(Task.goal_id == goal.id).order_by(Task.id)).first()
    agent = db.scalars(select(Agent).where(Agent.account_id == tenant.id,
                                           Agent.is_ceo.is_(False))).first()
    note = db.scalars(select(Note).where(Note.account_id == tenant.id)).first()
    assert task and agent and note
    ids = {"goal_id": goal.id, "task_id": task.id, "agent_id": agent.id, "account_id": tenant.id,
           "note_id": note.id, "id": goal.id}
    with TestClient(APP, raise_server_exceptions=False) as client:
        yield World(client, tenant.owner, ids)


def _check(resp_status: int, text: str, what: str) -> None:
    assert resp_status < 500, f"{what} → {resp_status}: {text[:400]}"
    if resp_status >= 400:
        assert "Traceback" not in text and text.strip(), f"{what}: unclear error page"


MALFORMED: dict[str, Callable[[str], dict[str, Any]]] = {
    "missing fields": lambda t: {"data": {"csrf_token": t}},
    "wrong types": lambda t: {"data": {
        "csrf_token": t, "agent_id": "abc", "amount": "1e999", "credits": "-5", "cap": "NaN",
        "account_id": "99999999999999999999999", "role": "emperor", "require_approval": "maybe",
        "email": "not-an-email", "password": "", "title": "", "kind": "[]"}},
    "repeated keys": lambda t: {"content": f"csrf_token={t}&title=a&title=b&agent_id=1&agent_id=x"
                                .encode(), "headers": {"Content-Type": FORM}},
    "non-UTF-8 urlencoded": lambda t: {"content": f"csrf_token={t}&title=".encode()
                                       + b"\xff\xfe\x80%FF%C3%28&brief=\xc3\x28",
                                       "headers": {"Content-Type": FORM}},
    "non-UTF-8 multipart": lambda t: {"data": {"csrf_token": t},
                                      "files": {"title": (None, b"\xff\xfe\xc3\x28", "text/plain")}},
    "huge fields": lambda t: {"data": {"csrf_token": t, **{f: "y" * 150_000 for f in
                                                           ("title", "brief", "email", "name")}}},
    "file where text is expected": lambda t: {
        "data": {"csrf_token": t},
        "files": {f: ("evil.html", b"<script>alert(1)</script>", "text/html")
                  for f in ("title", "brief", "instructions", "email", "name", "body")}},
    "JSON instead of a form": lambda t: {"json": {"csrf_token": t, "title": ["x"]},
                                         "headers": {"X-CSRF-Token": t}},
    "broken multipart": lambda t: {"content": b"--zz\r\nContent-Disposition: form-data; name=\"ti",
                                   "headers": {"Content-Type": "multipart/form-data; boundary=zz",
                                               "X-CSRF-Token": t}},
    "NUL bytes": lambda t: {"data": {"csrf_token": t, **{f: "a\x00b" for f in FIELDS}}},
}


def _chunks(token: str) -> Iterator[bytes]:
    """A 2.7 MB form sent without Content-Length (chunked), in fields small enough to pass
    any per-field limit: the 1 MB limit on the whole body must still hold."""
    yield f"csrf_token={token}&title=chunked".encode()
    for i in range(30):
        yield f"&f{i}=".encode() + b"x" * 90_000


@pytest.mark.parametrize("path", POST_ROUTES)
def test_hostile_posts_get_a_clear_4xx(world: World, path: str) -> None:
    """One route, every hostile post (a fresh login each): collected, then reported together."""
    problems: list[str] = []
    url = world.url(path)

    world.login()
    resp = world.client.post(url, data={"title": "x", "email": "a@b.c"}, follow_redirects=False)
    if resp.status_code != 403:
        problems.append(f"no CSRF token → {resp.status_code} (expected 403)")

    token = world.login()
    body = f"csrf_token={token}&title=".encode() + b"x" * (MAX_BODY_BYTES + 10)
    resp = world.client.post(url, content=body, headers={"Content-Type": FORM},
                             follow_redirects=False)
    if resp.status_code != 413:
        problems.append(f"over 1 MB → {resp.status_code} (expected 413)")

    token = world.login()
    resp = world.client.post(url, content=_chunks(token), headers={"Content-Type": FORM},
                             follow_redirects=False)
    if resp.status_code != 413:
        problems.append(f"over 1 MB, chunked → {resp.status_code} (expected 413)")

    for case, make in MALFORMED.items():
        token = world.login()
        resp = world.client.post(url, follow_redirects=False, **make(token))
        if resp.status_code >= 500:
            problems.append(f"{case} → {resp.status_code}: {resp.text[:200]!r}")
        elif resp.status_code >= 400 and ("Traceback" in resp.text or not resp.text.strip()):
            problems.append(f"{case} → {resp.status_code} with an unclear page")
    assert not problems, f"POST {path}:\n" + "\n".join(problems)


_soup = st.dictionaries(
    keys=st.one_of(st.sampled_from(FIELDS), st.text(min_size=1, max_size=12)),
    values=st.one_of(st.text(max_size=200), st.sampled_from(["", "0", "-1", "1e309", "on", "null",
                                                             "99999999999999999999", "<b>x</b>"])),
    max_size=8,
)


@pytest.mark.parametrize("path", POST_ROUTES)
@settings(max_examples=10, deadline=None, derandomize=bool(os.environ.get("CI")),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(fields=_soup, htmx=st.booleans())
def test_random_form_fields_never_5xx(world: World, path: str, fields: dict[str, str],
                                      htmx: bool) -> None:
    token = world.login()
    headers = {"HX-Request": "true"} if htmx else {}
    resp = world.client.post(world.url(path), data={**fields, "csrf_token": token},
                             headers=headers, follow_redirects=False)
    _check(resp.status_code, resp.text, f"POST {path} {fields!r}")


def test_oversized_chunked_json_to_the_api_is_refused(world: World) -> None:
    resp = world.client.post("/api/v1/goals", content=_chunks("x"),
                             headers={"Content-Type": "application/json",
                                      "Authorization": "Bearer w4_nothing"})
    assert resp.status_code == 413  # not FastAPI's 400 for a body it could not read
    assert "too large" in resp.json()["detail"]

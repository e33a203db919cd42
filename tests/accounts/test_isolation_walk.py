"""The walk: every route of the app, tried from account A with account B's ids.

Routes are enumerated from the app itself, so routes added later are walked too.
A route with a path parameter this file doesn't know fails the test with a clear
message (add it to ``_ids``/``FIXED`` or, if it is public, to ``PUBLIC``).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy.orm import Session

from tests.factories import (
    Tenant,
    csrf_from,
    login,
    make_planned_goal,
    make_tenant,
    plan_of,
    roster,
)
from web4os.accounts import invites, tokens
from web4os.accounts.models import Membership, Role
from web4os.agents.models import Note
from web4os.files import service as files
from web4os.goals.models import Task
from web4os.goaltemplates import service as templates
from web4os.goaltemplates.schemas import TemplateIn
from web4os.notifications.events import Event
from web4os.notifications.models import Notification
from web4os.notifications.service import notify
from web4os.routines import service as routines
from web4os.routines.schemas import RoutineIn
from web4os.tenancy import scoped
from web4os.tools.models import CallStatus, McpServer, McpTool, ToolCall
from web4os.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

# Public or login-flow routes, and paths whose parameter is a secret, not an id.
PUBLIC = ("/static", "/login", "/signup", "/healthz", "/api/docs", "/api/v1/openapi.json",
          "/docs/oauth2-redirect", "/invite/{token}", "/verify-email/{token}")
# Mutating routes any logged-in person may use on themselves.
SELF_SERVICE_POSTS = ("/logout", "/switch-account", "/verify-email/resend",
                      # each member's own read marks and mail choices, viewers' too
                      "/notifications/read-all", "/notifications/{notification_id}/read",
                      "/notifications/settings")
SELF_SERVICE_API = ("/api/v1/notifications/settings",)
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
# Non-id path parameters, per route, and the values to walk them with.
FIXED: dict[tuple[str, str], list[str]] = {
    ("/tasks/{task_id}/{action}", "action"):
        ["approve", "reject", "retry", "reassign", "edit", "cancel"],
    ("/agents/{agent_id}/{action}", "action"): ["enable", "disable"],
    ("/tasks/{task_id}/tool-calls/{call_id}/{decision}", "decision"):
        ["approve", "deny", "mark-done", "run-again"],
    ("/api/v1/tasks/{task_id}/tool-calls/{call_id}/{decision}", "decision"):
        ["approve", "deny", "mark-done", "run-again"],
}
SECRET = "ZEBRA-SECRET"


@dataclass
class Ids:
    """One account's rows, by the path-parameter names that carry them."""

    by_param: dict[str, int]
    agent_id: int


def _ids(db: Session, t: Tenant, label: str) -> Ids:
    goal = make_planned_goal(db, t, plan_of(("a", "researcher", []), ("b", "writer", ["a"])),
                             title=f"{label} goal")
    task = db.scalars(scoped(Task, t.id).where(Task.goal_id == goal.id).order_by(Task.id)).first()
    assert task is not None
    agent = roster(db, t)["writer"]
    member = db.scalars(scoped(Membership, t.id).where(Membership.user_id == t.operator.id)).one()
    invite = invites.issue(db, t.id, email=f"{label.lower()}-invitee@example.com",
                           role=Role.VIEWER, created_by=t.owner.id)
    token = tokens.create_token(db, t.ctx(), name=f"{label} token", role=Role.VIEWER)
    note = Note(account_id=t.id, title=f"{label} note", body=f"{label} note body")
    db.add(note)
    server = McpServer(account_id=t.id, name=f"{label.lower()}-mcp",
                       url="https://mcp.example.com/mcp")
    server.tools.append(McpTool(account_id=t.id, name=f"{label}_tool", read_only=True,
                                destructive=False))
    db.add(server)
    db.flush()
    call = ToolCall(account_id=t.id, task_id=task.id, tool_id=server.tools[0].id,
                    server_name=server.name, tool_name=server.tools[0].name,
                    idempotency_key=f"{label}-call-1", status=CallStatus.AWAITING)
    db.add(call)
    db.flush()
    # notified before the endpoint exists: no delivery is sent while a walk runs
    notify(db, t.id, Event.GOAL_COMPLETED, title=f"{label} goal done", link=f"/goals/{goal.id}")
    notification = db.scalars(scoped(Notification, t.id)).first()
    assert notification is not None
    endpoint = WebhookEndpoint(account_id=t.id, url=f"https://hooks.example.com/{label}",
                               events=["goal.completed"], secret_encrypted="",
                               secret_hint=f"whsec_…{label[-4:]}", description=f"{label} hook")
    db.add(endpoint)
    db.flush()
    delivery = WebhookDelivery(account_id=t.id, endpoint_id=endpoint.id, message_id=f"msg_{label}",
                               event="goal.completed", status=DeliveryStatus.FAILED,
                               payload={"title": f"{label} event"}, last_error=f"{label} error")
    db.add(delivery)
    db.flush()
    attached = files.upload(db, t.ctx(), name=f"{label}.txt", data=f"{label} file".encode(),
                            goal=goal)
    routine = routines.save_routine(db, t.ctx(), RoutineIn(title=f"{label} routine"))
    routines.record_skip(db, routine, routine.next_run_at or goal.created_at, reason="overlap",
                         message=f"{label} run skipped")
    template = templates.create_template(db, t.ctx(), TemplateIn(
        name=f"{label} template", title=f"{label} templated goal", attachments=[attached.id]))
    by_param = {"file_id": attached.id, "goal_id": goal.id, "task_id": task.id, "agent_id": agent.id,
                "membership_id": member.id, "member_id": member.id, "invite_id": invite.row.id,
                "token_id": token.row.id, "note_id": note.id, "account_id": t.account.id,
                "server_id": server.id, "tool_id": server.tools[0].id, "call_id": call.id,
                "endpoint_id": endpoint.id, "delivery_id": delivery.id,
                "routine_id": routine.id, "notification_id": notification.id,
                "template_id": template.id}
    return Ids(by_param, agent.id)


@dataclass
class World:
    a: Tenant
    b: Tenant
    a_ids: Ids
    b_ids: Ids
    a_owner_token: str
    a_viewer_token: str


@pytest.fixture
def world(db: Session) -> World:
    a = make_tenant(db, "Acme Walk")
    b = make_tenant(db, f"{SECRET} Co")
    a_ids = _ids(db, a, "Acme")
    b_ids = _ids(db, b, SECRET)
    owner_token = tokens.create_token(db, a.ctx(), name="walk owner", role=Role.OWNER).secret
    viewer_token = tokens.create_token(db, a.ctx(), name="walk viewer", role=Role.VIEWER).secret
    db.commit()
    return World(a, b, a_ids, b_ids, owner_token, viewer_token)


@dataclass(frozen=True)
class Walked:
    path: str
    method: str
    route: APIRoute


def walk_routes(app: FastAPI) -> Iterator[Walked]:
    """Every (path, method) of the app, nested routers included."""
    for rc in iter_route_contexts(app.routes):
        route = rc.original_route
        path = rc.path_format or rc.path
        if not isinstance(route, APIRoute) or path is None:
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            yield Walked(path, method, route)


def _public(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PUBLIC)


def _params(path: str) -> list[str]:
    return re.findall(r"{(\w+)(?::\w+)?}", path)


def _fill(path: str, ids: Ids) -> list[str]:
    """Concrete URLs for a templated path (one per fixed value, e.g. each card action)."""
    urls = [path]
    for name in _params(path):
        if name in ids.by_param:
            values = [str(ids.by_param[name])]
        elif (path, name) in FIXED:
            values = FIXED[(path, name)]
        else:
            pytest.fail(f"{path}: the walk doesn't know the path parameter {{{name}}}. Map it "
                        "to an owned row in _ids() or give its values in FIXED "
                        "(tests/accounts/test_isolation_walk.py), or list the route as PUBLIC "
                        "if the parameter is a secret rather than an id.")
        pattern = re.compile(r"{" + name + r"(?::\w+)?}")
        urls = [pattern.sub(v, u) for u in urls for v in values]
    return urls


def _form(csrf: str, ids: Ids) -> dict[str, str]:
    """Plausible values for every form field the app uses, so validation isn't what answers."""
    return {"csrf_token": csrf, "feedback": "Walk feedback", "title": "Walk title",
            "instructions": "Walk instructions", "agent_id": str(ids.agent_id),
            "agent_ids": str(ids.agent_id),
            "role": "viewer", "email": "walker@example.com", "name": "Walk",
            "token_name": "Walk", "amount": "5", "reason": "Walk", "body": "Walk body",
            "brief": "Walk brief"}


def _json_body(route: APIRoute, ids: Ids) -> dict[str, Any] | None:
    """A valid body for the route's pydantic model, if it takes one."""
    hints = typing.get_type_hints(route.endpoint)
    for hint in hints.values():
        if isinstance(hint, type) and issubclass(hint, BaseModel):
            body: dict[str, Any] = {}
            for name, field in hint.model_fields.items():
                ann = field.annotation
                if ann is int:
                    body[name] = ids.agent_id
                elif ann is bool:
                    body[name] = False
                elif ann is str:
                    body[name] = "Walk value"
                elif ann == list[int]:  # e.g. the specialists of a simple plan
                    body[name] = [ids.agent_id]
            return body
    return None


def _no_secrets(resp: Any, world: World, where: str) -> None:
    text = resp.text
    for marker in (SECRET, world.b.owner.email, world.b.viewer.email):
        assert marker not in text, f"{where}: the response shows account B's data ({marker})"


def _session_csrf(client: TestClient) -> str:
    return csrf_from(client.get("/").text)


def test_account_a_gets_404_for_every_id_of_account_b(client: TestClient, world: World) -> None:
    login(client, world.a.owner)
    csrf = _session_csrf(client)
    app = typing.cast(FastAPI, client.app)
    walked = 0
    for r in walk_routes(app):
        if _public(r.path) or r.path.startswith("/api/"):
            continue
        if not _params(r.path):
            if r.method == "GET":
                resp = client.get(r.path, follow_redirects=False)
                assert resp.status_code < 500, f"GET {r.path}: {resp.status_code}"
                _no_secrets(resp, world, f"GET {r.path}")
            continue
        for url in _fill(r.path, world.b_ids):
            if r.method == "GET":
                resp = client.get(url, follow_redirects=False)
            else:
                resp = client.request(r.method, url, data=_form(csrf, world.a_ids),
                                      follow_redirects=False)
            assert resp.status_code == 404, f"{r.method} {url} → {resp.status_code}"
            _no_secrets(resp, world, f"{r.method} {url}")
            walked += 1
    assert walked >= 10


def test_api_token_of_a_gets_404_for_every_id_of_b(client: TestClient, world: World) -> None:
    headers = {"Authorization": f"Bearer {world.a_owner_token}"}
    app = typing.cast(FastAPI, client.app)
    walked = 0
    for r in walk_routes(app):
        if not r.path.startswith("/api/") or _public(r.path):
            continue
        if not _params(r.path):
            if r.method == "GET":
                resp = client.get(r.path, headers=headers)
                assert resp.status_code == 200, f"GET {r.path}: {resp.status_code}"
                _no_secrets(resp, world, f"GET {r.path}")
            continue
        for url in _fill(r.path, world.b_ids):
            resp = client.request(r.method, url, headers=headers,
                                  json=_json_body(r.route, world.a_ids))
            assert resp.status_code == 404, f"{r.method} {url} → {resp.status_code} {resp.text}"
            assert "detail" in resp.json()
            _no_secrets(resp, world, f"{r.method} {url}")
            walked += 1
    assert walked >= 5


def test_a_viewer_gets_403_on_every_mutating_route(client: TestClient, world: World) -> None:
    login(client, world.a.viewer)
    csrf = _session_csrf(client)
    app = typing.cast(FastAPI, client.app)
    walked = 0
    for r in walk_routes(app):
        if (r.method not in MUTATING or _public(r.path) or r.path.startswith("/api/")
                or r.path in SELF_SERVICE_POSTS):
            continue
        expected = 404 if r.path.startswith("/admin") else 403  # the console isn't advertised
        for url in _fill(r.path, world.a_ids):
            resp = client.request(r.method, url, data=_form(csrf, world.a_ids),
                                  follow_redirects=False)
            assert resp.status_code == expected, f"{r.method} {url} → {resp.status_code}"
            walked += 1
    assert walked >= 10


def test_a_viewer_token_gets_403_on_every_mutating_api_route(client: TestClient,
                                                             world: World) -> None:
    headers = {"Authorization": f"Bearer {world.a_viewer_token}"}
    app = typing.cast(FastAPI, client.app)
    walked = 0
    for r in walk_routes(app):
        if (r.method not in MUTATING or not r.path.startswith("/api/") or _public(r.path)
                or r.path in SELF_SERVICE_API):
            continue
        for url in _fill(r.path, world.a_ids):
            resp = client.request(r.method, url, headers=headers,
                                  json=_json_body(r.route, world.a_ids))
            assert resp.status_code == 403, f"{r.method} {url} → {resp.status_code}"
            assert "detail" in resp.json()
            walked += 1
    assert walked >= 5


def test_owner_pages_refuse_operators_and_viewers(client: TestClient, world: World) -> None:
    for user in (world.a.operator, world.a.viewer):
        client.cookies.clear()
        login(client, user)
        for path in ("/settings", "/settings/members"):
            assert client.get(path).status_code == 403, (user.email, path)
        assert client.get("/admin").status_code == 404

"""Hostile characters in every text field of every JSON body and every form: a lone UTF-16
surrogate, NUL and a bidirectional override are refused with a 4xx that names the field,
and nothing is stored.

The JSON fields come from the app's OpenAPI schema and the form fields from the forms in
the templates, so a field added later is swept too: it passes only if it is held to the
shared rule (``web4os.text``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, Text, func, select
from sqlalchemy.orm import Session

from tests.conftest import TEST_DB_URL
from tests.factories import Tenant, make_card_in_review
from tests.hardening.test_forms import _routes
from web4os import models  # noqa: F401  (every table on the metadata)
from web4os.accounts import invites
from web4os.accounts.models import Membership, Role, User
from web4os.accounts.service import start_session
from web4os.accounts.tokens import create_token
from web4os.agents.models import Agent, Note
from web4os.app import create_app
from web4os.db import Base, get_engine, session_factory
from web4os.goaltemplates import service as templates
from web4os.goaltemplates.schemas import TemplateIn
from web4os.routines import service as routines
from web4os.routines.schemas import RoutineIn
from web4os.tenancy import bind_account
from web4os.web.templating import TEMPLATES_DIR
from web4os.workers.embedded import EmbeddedRunner

APP = create_app(start_worker=False)
HOSTILE = {"lone surrogate": "a\ud800b", "NUL": "a\x00b", "bidi override": "a\u202eb"}
REASONS = {"lone surrogate": "broken character", "NUL": "control character",
           "bidi override": "text-direction control"}


# --- what there is to sweep ---------------------------------------------------------

def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def _is_text(prop: dict[str, Any]) -> bool:
    return prop.get("type") == "string" or any(p.get("type") == "string"
                                               for p in prop.get("anyOf", ()))


def json_text_fields() -> list[tuple[str, str, str, dict[str, Any]]]:
    """(method, path, field, a valid body) for each text field of each JSON request body."""
    spec = APP.openapi()
    out = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            media = op.get("requestBody", {}).get("content", {}).get("application/json")
            if media is None:
                continue
            body_schema = _resolve(media["schema"], spec)
            props = body_schema.get("properties", {})
            valid = {name: ("Fine text" if _is_text(p) else p.get("default"))
                     for name, p in props.items()}
            for name, prop in props.items():
                if _is_text(prop):
                    out.append((method.upper(), path, name, valid))
    return out


# Posted forms only: a GET form (the admin's search) sends a query string, not a post;
# its route checks the text itself (tests/admin/test_console.py).
_FORM = re.compile(r'<form\b(?![^>]*\bmethod="get")[^>]*\baction="([^"]+)"[^>]*>(.*?)</form>',
                   re.S)
_NAME = re.compile(r'\bname="(\w+)"')
_INCLUDE = re.compile(r'\{%\s*include\s+"([^"]+)"')
_COMMENT = re.compile(r"\{#.*?#\}", re.S)


def _fields(html: str) -> set[str]:
    names = set(_NAME.findall(html))
    for included in _INCLUDE.findall(html):
        names |= _fields(_COMMENT.sub("", (TEMPLATES_DIR / included).read_text()))
    return names - {"csrf_token"}


def form_fields() -> list[tuple[str, str]]:
    """(action as written in the template, field) for each field of each posted form."""
    found: set[tuple[str, str]] = set()
    for page in TEMPLATES_DIR.rglob("*.html"):
        for action, body in _FORM.findall(_COMMENT.sub("", page.read_text())):
            found |= {(action, field) for field in _fields(body)}
    return sorted(found)


JSON_FIELDS = json_text_fields()
FORM_FIELDS = form_fields()
FORM_ACTIONS = {re.sub(r"\{\{[^}]*\}\}", "{}", action) for action, _ in FORM_FIELDS}

# Page posts whose forms hold only the CSRF token (buttons).
NO_TEXT_FIELDS = {"/admin/accounts/{account_id}/reactivate", "/admin/accounts/{account_id}/suspend",
                  "/agents/{agent_id}/{action}", "/goals/{goal_id}/cancel",
                  "/goals/{goal_id}/plan-again", "/goals/{goal_id}/urgent",
                  "/goals/{goal_id}/not-urgent", "/logout", "/notes/{note_id}/delete",
                  "/settings/invites/{invite_id}/revoke", "/settings/members/{membership_id}/remove",
                  "/settings/tokens/{token_id}/revoke", "/verify-email/resend",
                  "/tools/servers/{server_id}/delete", "/tools/servers/{server_id}/refresh",
                  "/files/{file_id}/delete", "/settings/data/delete/cancel",
                  "/settings/webhooks/{endpoint_id}/delete", "/settings/webhooks/{endpoint_id}/rotate",
                  "/settings/webhooks/{endpoint_id}/test",
                  "/settings/webhooks/{endpoint_id}/deliveries/{delivery_id}/retry",
                  "/routines/{routine_id}/archive", "/routines/{routine_id}/pause",
                  "/routines/{routine_id}/resume", "/routines/{routine_id}/run",
                  "/notifications/read-all", "/notifications/{notification_id}/read",
                  "/templates/{template_id}/delete",
                  # one select per tool (``policy_<id>``), each value checked against the
                  # three policies; the sweep cannot name fields made in a loop
                  "/tools/agents/{agent_id}"}


def test_every_page_post_is_a_form_the_sweep_reads() -> None:
    """A page route that takes a post must be posted by a form in the templates, so the
    fields it reads are swept (routes whose forms carry nothing but the CSRF token may
    not be listed: they read no text)."""
    without_text = []
    for path in sorted({p for p, methods in _routes(APP.routes)
                        if "POST" in methods and not p.startswith("/api/")}):
        route = re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$")
        if not any(route.match(a.replace("{}", "1")) or _as_pattern(a).match(_sample(path))
                   for a in FORM_ACTIONS):
            without_text.append(path)
    unswept = sorted(set(without_text) - NO_TEXT_FIELDS)
    assert not unswept, f"page posts no template form sends (so not swept): {unswept}"


def _as_pattern(action: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(action).replace(r"\{\}", "[^/]+") + "$")


def _sample(path: str) -> str:
    return re.sub(r"\{\w+\}", "1", path)


def test_the_sweep_sees_the_known_fields() -> None:
    """A guard on the enumeration itself: if it finds nothing, the sweep proves nothing."""
    assert {("POST", "/api/v1/goals", "title"), ("POST", "/api/v1/goals", "brief"),
            ("POST", "/api/v1/tasks/{task_id}/reject", "feedback"),
            ("POST", "/api/v1/tasks/{task_id}/edit", "instructions")} <= {
        (m, p, f) for m, p, f, _ in JSON_FIELDS}
    assert {("/goals", "title"), ("/goals", "brief"), ("/tasks/{{ t.id }}/reject", "feedback"),
            ("/notes", "body"), ("/agents", "instructions"), ("/signup", "password"),
            ("/settings/tokens", "token_name"), ("/login", "next")} <= set(FORM_FIELDS)


# --- the world they are sent to -----------------------------------------------------

@dataclass
class World:
    client: TestClient
    user: User
    ids: dict[str, str]
    api_token: str

    def login(self) -> str:
        with session_factory()() as s:
            new = start_session(s, s.get(User, self.user.id))  # type: ignore[arg-type]
            s.commit()
        self.client.cookies.clear()
        self.client.cookies.set("w4_session", new.token)
        return new.row.csrf_token

    def url(self, path: str) -> str:
        """A template's action or an OpenAPI path with this world's ids filled in."""
        path = path.replace("{decision}", "deny")  # a word, not an id
        path = re.sub(r"\{\{[^}]*\}\}|\{(\w+)\}", "{}", path)
        parts = path.split("/")
        for i, part in enumerate(parts):
            if part == "{}":
                parts[i] = self.ids[parts[i - 1]]
        return "/".join(parts)


@pytest.fixture
def world(db: Session, tenant: Tenant, runner: EmbeddedRunner) -> Iterator[World]:
    """The owner (a platform admin too) with a card in review, a note, an invite and a
    token; each kind of id in a path points at one of these rows."""
    task = make_card_in_review(db, tenant, "A draft")
    tenant.owner.is_platform_admin = True
    db.add(Note(account_id=tenant.id, title="Opening hours", body="8-18"))
    db.flush()
    bind_account(db, tenant.id)
    invite = invites.create_invite(db, tenant.ctx(), email="new@example.com", role="viewer")
    secret = create_token(db, tenant.ctx(), name="sweep", role=Role.OWNER).secret
    routine = routines.save_routine(db, tenant.ctx(), RoutineIn(title="Weekly summary"))
    template = templates.create_template(db, tenant.ctx(), TemplateIn(
        name="Weekly newsletter", title="Write the newsletter"))
    db.commit()
    agent = db.scalars(select(Agent).where(Agent.account_id == tenant.id,
                                           Agent.is_ceo.is_(False))).first()
    note = db.scalars(select(Note).where(Note.account_id == tenant.id)).first()
    member = db.scalars(select(Membership).where(Membership.account_id == tenant.id,
                                                 Membership.user_id != tenant.owner.id)).first()
    assert agent and note and member
    ids = {"tasks": task.id, "goals": task.goal_id, "agents": agent.id, "notes": note.id,
           "accounts": tenant.id, "members": member.id, "invites": invite.row.id,
           "invite": invite.path.rsplit("/", 1)[1], "routines": routine.id,
           "templates": template.id,
           # no such rows: the text rule answers before anything is looked up
           "tools": 2_000_000_000, "tool-calls": 2_000_000_000, "webhooks": 2_000_000_000}
    with TestClient(APP, raise_server_exceptions=False) as client:
        yield World(client, tenant.owner, {k: str(v) for k, v in ids.items()}, secret)


def stored() -> tuple[dict[str, int], list[str]]:
    """Rows per table, and every stored text that holds a hostile character."""
    counts: dict[str, int] = {}
    bad: list[str] = []
    with get_engine(TEST_DB_URL).connect() as conn:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = conn.execute(select(func.count()).select_from(table)).scalar_one()
            text_cols = [c for c in table.columns if isinstance(c.type, (String, Text))]
            for row in conn.execute(select(*text_cols)) if text_cols else ():
                bad += [f"{table.name}: {v!r}" for v in row
                        if isinstance(v, str) and re.search("[\x00\u202e\ud800]", v)]
    return counts, bad


# --- the sweep ----------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "field", "valid"), JSON_FIELDS,
                         ids=[f"{m} {p} {f}" for m, p, f, _ in JSON_FIELDS])
def test_json_text_fields_refuse_hostile_text(world: World, method: str, path: str,
                                              field: str, valid: dict[str, Any]) -> None:
    problems = []
    for kind, value in HOSTILE.items():
        before = stored()
        # Sent as JSON escapes (\ud800), the way a client encodes a lone surrogate.
        resp = world.client.request(method, world.url(path),
                                    content=json.dumps({**valid, field: value}),
                                    headers={"Authorization": f"Bearer {world.api_token}",
                                             "Content-Type": "application/json"})
        detail = resp.json().get("detail", "") if resp.status_code < 500 else resp.text
        if resp.status_code != 422 or f"{field}: " not in detail or REASONS[kind] not in detail:
            problems.append(f"{kind} → {resp.status_code} {detail[:200]!r}")
        after = stored()
        if after[0] != before[0] or after[1]:
            problems.append(f"{kind}: something was stored {after[1][:3]}")
    assert not problems, f"{method} {path} “{field}”:\n" + "\n".join(problems)


@pytest.mark.parametrize(("action", "field"), FORM_FIELDS,
                         ids=[f"{a} {f}" for a, f in FORM_FIELDS])
def test_form_fields_refuse_hostile_text(world: World, action: str, field: str) -> None:
    """A browser can't post a lone surrogate (forms are UTF-8, and bytes that don't decode
    become U+FFFD), so forms are swept with NUL and a bidi override."""
    problems = []
    for kind in ("NUL", "bidi override"):
        token = world.login()
        before = stored()
        resp = world.client.post(world.url(action), data={"csrf_token": token,
                                                         field: HOSTILE[kind]},
                                 follow_redirects=False)
        named = f"“{field}”" in resp.text and REASONS[kind] in resp.text
        if not 400 <= resp.status_code < 500 or not named:
            problems.append(f"{kind} → {resp.status_code}, field named: {named}")
        after = stored()
        if after[0] != before[0] or after[1]:
            problems.append(f"{kind}: something was stored {after[1][:3]}")
    assert not problems, f"POST {action} “{field}”:\n" + "\n".join(problems)

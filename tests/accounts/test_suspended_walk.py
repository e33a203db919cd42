"""The suspended walk: a suspended account's owner tries every mutating route.

Routes are enumerated from the app itself, so routes added later are walked too. Each
one is refused with the one suspended message and changes nothing in the account,
unless ``EXEMPT`` lists it with the reason a member of a suspended account still needs
it. Path ids come from the isolation walk's ``_ids``/``FIXED``; a route with a parameter
it doesn't know fails the test there, with what to add.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.accounts.test_isolation_walk import (
    MUTATING,
    Ids,
    _fill,
    _form,
    _ids,
    _json_body,
    _session_csrf,
    walk_routes,
)
from tests.factories import (
    PASSWORD,
    HeldQueue,
    Tenant,
    add_member,
    csrf_from,
    login,
    make_tenant,
    make_user,
)
from web4os.accounts import invites, tokens
from web4os.accounts.models import AccountStatus, ApiToken, Invite, Membership, Role
from web4os.admin import service as admin
from web4os.errors import AccountSuspended
from web4os.goals import caps
from web4os.models import Base

MESSAGE = AccountSuspended.MESSAGE

# What a member of a suspended account may still do, and why (every other mutating
# route must refuse). The admin console is exempt as a whole: see ``_exempt``.
EXEMPT: dict[str, str] = {
    "/signup": "makes a new account of one's own; no existing account is acted on",
    "/login": "members of a suspended account log in to read it",
    "/logout": "ending one's own session changes nothing in the account",
    "/switch-account": "moves to another account the person belongs to",
    "/notifications/read-all": "marks what the person has read; reading is what a "
                               "suspended account is for",
    "/notifications/{notification_id}/read": "marks one notification read for the person; "
                                             "nothing in the account changes",
    "/verify-email/resend": "mails the person a link to confirm their own email address; "
                            "nothing in the account changes",
    "/invite/{token}": "the link is the authority, not the viewer's account; joining a "
                       "suspended account gives what its members have, reading",
    "/settings/tokens/{token_id}/revoke": "takes access away: a suspended account's tokens "
                                          "still read, so a leaked one must be cut off",
    "/settings/invites/{invite_id}/revoke": "takes access away: a withdrawn link can't be "
                                            "used to join and read",
    "/settings/members/{membership_id}/remove": "takes access away (or lets a co-owner "
                                                "leave): the person stops reading it",
    "/api/v1/tokens/{token_id}": "DELETE revokes a token: as its page form does",
    "/api/v1/invites/{invite_id}": "DELETE withdraws an invite: as its page form does",
    "/api/v1/members/{membership_id}": "DELETE removes a member: as its page form does",
    "/settings/data/delete": "an owner may ask for the account's data to be deleted, "
                             "whatever its status",
    "/settings/data/delete/cancel": "withdraws that request: nothing else changes",
    "/api/v1/account/deletion": "the same request and its withdrawal, by API",
    "/api/v1/notifications/read-all": "the person's own read marks, as its page form",
    "/api/v1/notifications/{notification_id}/read": "one read mark, as its page form",
}
# Platform admins' console and API: the account's status doesn't bind them (an account's
# token gets 403 on the API's admin routes whatever the status).
ADMIN = ("/admin/", "/api/v1/admin/")

# Logins belong to people, not to the account's work or set-up; a token's last use is
# recorded on every call, reads included.
NOT_THE_ACCOUNTS = {"web_sessions"}
VOLATILE_COLUMNS = {"last_used_at"}


def _exempt(path: str) -> bool:
    return path in EXEMPT or path.startswith(ADMIN)


@dataclass
class Suspended:
    tenant: Tenant
    ids: Ids
    owner_token: str


@pytest.fixture
def suspended(db: Session) -> Suspended:
    """An account with work, agents, notes, caps, invites and tokens, then suspended."""
    t = make_tenant(db, "Suspended Walk")
    ids = _ids(db, t, "Walk")
    caps.set_goal_cap(db, t.ctx(), ids.by_param["goal_id"], 500)
    caps.set_agent_cap(db, t.ctx(), ids.agent_id, 400)
    owner_token = tokens.create_token(db, t.ctx(), name="walk owner", role=Role.OWNER).secret
    admin.set_status(db, t.account.id, AccountStatus.SUSPENDED)
    db.commit()
    return Suspended(t, ids, owner_token)


@pytest.fixture
def quiet_client(held_queue: HeldQueue) -> Iterator[TestClient]:
    """The app with a job queue that only records, so any job a route sends shows."""
    from web4os.app import create_app

    with TestClient(create_app(start_worker=False)) as c:
        yield c


def snapshot(db: Session, account_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the account owns (and its own row), as plain tuples."""
    db.rollback()
    accounts = Base.metadata.tables["accounts"]
    rows = {"accounts": [tuple(r) for r in db.execute(
        select(accounts).where(accounts.c.id == account_id))]}
    for table in Base.metadata.sorted_tables:
        if "account_id" not in table.c or table.name in NOT_THE_ACCOUNTS:
            continue
        columns = [c for c in table.c if c.name not in VOLATILE_COLUMNS]
        rows[table.name] = [tuple(r) for r in db.execute(
            select(*columns).where(table.c.account_id == account_id)
            .order_by(*table.primary_key.columns))]
    return rows


def _changes(before: dict[str, list[tuple[Any, ...]]],
             after: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    return [f"{name}: {before[name]} → {after[name]}" for name in before
            if before[name] != after[name]]


def _non_empty(rows: dict[str, list[tuple[Any, ...]]]) -> None:
    """The comparison means something only if the account has rows of every kind."""
    for name in ("goals", "tasks", "agents", "notes", "credit_ledger", "invites", "api_tokens",
                 "memberships"):
        assert rows[name], f"the walk's account has no {name}"


def test_every_exemption_names_a_mutating_route(quiet_client: TestClient) -> None:
    app = typing.cast(FastAPI, quiet_client.app)
    mutating = {r.path for r in walk_routes(app) if r.method in MUTATING}
    assert set(EXEMPT) <= mutating, f"stale exemptions: {set(EXEMPT) - mutating}"


def test_pages_refuse_every_change_to_a_suspended_account(
        quiet_client: TestClient, db: Session, suspended: Suspended,
        held_queue: HeldQueue) -> None:
    client, ids = quiet_client, suspended.ids
    login(client, suspended.tenant.owner)
    csrf = _session_csrf(client)
    before = snapshot(db, suspended.tenant.account.id)
    _non_empty(before)
    jobs = len(held_queue.jobs)
    walked = 0
    for r in walk_routes(typing.cast(FastAPI, client.app)):
        if r.method not in MUTATING or r.path.startswith("/api/") or _exempt(r.path):
            continue
        for url in _fill(r.path, ids):
            where = f"{r.method} {url}"
            page = client.request(r.method, url, data=_form(csrf, ids), follow_redirects=False)
            assert page.status_code == 403, f"{where} → {page.status_code}, not refused"
            assert f'<p class="lead">{escape(MESSAGE)}</p>' in page.text, (
                f"{where}: the error page doesn't give the suspended message")
            toast = client.request(r.method, url, data=_form(csrf, ids),
                                   headers={"HX-Request": "true"}, follow_redirects=False)
            assert toast.headers.get("HX-Retarget") == "#toast", f"{where} (htmx): no toast"
            assert f"</strong> {escape(MESSAGE)}</p>" in toast.text, (
                f"{where} (htmx): the toast doesn't give the suspended message")
            walked += 1
    assert walked >= 15
    changes = _changes(before, snapshot(db, suspended.tenant.account.id))
    assert not changes, "the walk changed the account: " + "; ".join(changes)
    assert held_queue.jobs[jobs:] == []


def test_the_api_refuses_every_change_to_a_suspended_account(
        quiet_client: TestClient, db: Session, suspended: Suspended,
        held_queue: HeldQueue) -> None:
    client, ids = quiet_client, suspended.ids
    headers = {"Authorization": f"Bearer {suspended.owner_token}"}
    before = snapshot(db, suspended.tenant.account.id)
    _non_empty(before)
    jobs = len(held_queue.jobs)
    walked = 0
    for r in walk_routes(typing.cast(FastAPI, client.app)):
        if r.method not in MUTATING or not r.path.startswith("/api/") or _exempt(r.path):
            continue
        for url in _fill(r.path, ids):
            resp = client.request(r.method, url, headers=headers, json=_json_body(r.route, ids))
            assert resp.status_code == 403, f"{r.method} {url} → {resp.status_code}, not refused"
            assert resp.json() == {"detail": MESSAGE}, f"{r.method} {url}: {resp.text}"
            walked += 1
    assert walked >= 8
    changes = _changes(before, snapshot(db, suspended.tenant.account.id))
    assert not changes, "the walk changed the account: " + "; ".join(changes)
    assert held_queue.jobs[jobs:] == []


def test_the_exemptions_still_work_while_suspended(quiet_client: TestClient, db: Session,
                                                   suspended: Suspended) -> None:
    """Each exempt route, used by a member of the suspended account, does its job."""
    client, t, ids = quiet_client, suspended.tenant, suspended.ids.by_param
    used: set[str] = set()

    def post(route: str, url: str, **fields: str) -> None:
        resp = client.post(url, data={"csrf_token": csrf, **fields}, follow_redirects=False)
        assert resp.status_code == 303, f"{url} → {resp.status_code}: {resp.text[:300]}"
        used.add(route)

    link = invites.issue(db, t.id, email="joiner@example.com", role=Role.VIEWER,
                         created_by=t.owner.id).path
    leaked = tokens.create_token(db, t.ctx(), name="leaked", role=Role.VIEWER).row.id
    late = invites.issue(db, t.id, email="late@example.com", role=Role.VIEWER,
                         created_by=t.owner.id).row.id
    leaving = add_member(db, t.account, make_user(db), Role.VIEWER).id
    db.commit()
    api = {"Authorization": f"Bearer {suspended.owner_token}"}
    for route, url in (("/api/v1/tokens/{token_id}", f"/api/v1/tokens/{leaked}"),
                       ("/api/v1/invites/{invite_id}", f"/api/v1/invites/{late}"),
                       ("/api/v1/members/{membership_id}", f"/api/v1/members/{leaving}")):
        resp = client.delete(url, headers=api)
        assert resp.status_code == 204, f"{url} → {resp.status_code}: {resp.text[:300]}"
        used.add(route)
    resp = client.post("/api/v1/account/deletion", json={"confirm": t.account.name}, headers=api)
    assert resp.status_code == 202 and resp.json()["deletion_due_at"]
    assert client.delete("/api/v1/account/deletion", headers=api).status_code == 200
    used.add("/api/v1/account/deletion")
    for route, url in (("/api/v1/notifications/{notification_id}/read",
                        f"/api/v1/notifications/{ids['notification_id']}/read"),
                       ("/api/v1/notifications/read-all", "/api/v1/notifications/read-all")):
        resp = client.post(url, headers=api)
        assert resp.status_code == 200, f"{url} → {resp.status_code}: {resp.text[:300]}"
        used.add(route)
    login(client, t.owner)
    used.add("/login")
    csrf = _session_csrf(client)
    post("/settings/tokens/{token_id}/revoke", f"/settings/tokens/{ids['token_id']}/revoke")
    post("/settings/invites/{invite_id}/revoke", f"/settings/invites/{ids['invite_id']}/revoke")
    post("/settings/members/{membership_id}/remove",
         f"/settings/members/{ids['membership_id']}/remove")
    post("/settings/data/delete", "/settings/data/delete", confirm=t.account.name)
    post("/settings/data/delete/cancel", "/settings/data/delete/cancel")
    post("/switch-account", "/switch-account", account_id=str(t.account.id))
    post("/verify-email/resend", "/verify-email/resend")
    post("/notifications/{notification_id}/read",
         f"/notifications/{ids['notification_id']}/read")
    post("/notifications/read-all", "/notifications/read-all")
    post("/logout", "/logout")

    client.cookies.clear()
    csrf = csrf_from(client.get(link).text)
    post("/invite/{token}", link, display_name="Joiner", password=PASSWORD)
    client.cookies.clear()
    csrf = csrf_from(client.get("/signup").text)
    post("/signup", "/signup", email="founder@example.com", password=PASSWORD,
         account_name="Fresh Start", display_name="Founder")
    assert used == set(EXEMPT)

    db.rollback()
    token = db.get(ApiToken, ids["token_id"])
    invite = db.get(Invite, ids["invite_id"])
    assert token is not None and token.revoked_at is not None
    assert invite is not None and invite.revoked_at is not None
    assert db.get(Membership, ids["membership_id"]) is None
    joined = db.scalars(select(Membership).where(Membership.account_id == t.account.id)).all()
    assert any(m.user.email == "joiner@example.com" for m in joined)

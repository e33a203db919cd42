"""Accounts through HTTP: signup and login refusals, invites, members, tokens, the admin
console and concierge provisioning end to end."""

from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import PASSWORD, Tenant, csrf_from, login, make_user
from web4os.accounts import invites
from web4os.accounts import service as accounts
from web4os.accounts.models import (
    Account,
    AccountKind,
    AccountStatus,
    ApiToken,
    Invite,
    Membership,
    Role,
    User,
    WebSession,
)
from web4os.credits import service as credits
from web4os.db import utcnow
from web4os.goals.models import Goal, GoalStatus
from web4os.queue import set_queue
from web4os.workers.embedded import EmbeddedRunner


def _counts(db: Session) -> tuple[int, int, int, int]:
    db.rollback()
    return tuple(int(db.scalar(select(func.count()).select_from(m)) or 0)  # type: ignore[return-value]
                 for m in (User, Account, Membership, WebSession))


def _signup(client: TestClient, **fields: str) -> tuple[int, str]:
    page = client.get("/signup")
    data = {"account_name": "Rosie's Bakery", "display_name": "Rosie",
            "email": "rosie@example.com", "password": "flour and sugar 42",
            "csrf_token": csrf_from(page.text), **fields}
    resp = client.post("/signup", data=data, follow_redirects=False)
    return resp.status_code, htmllib.unescape(resp.text)


def _t(resp: Any) -> str:
    """The page as a reader sees it (entities unescaped)."""
    return htmllib.unescape(resp.text)


def _link_in(html: str) -> str:
    m = re.search(r'value="https?://[^"/]+(/invite/[^"]+)"', html)
    assert m, "no invite link on the page"
    return m.group(1)


# --- signup and login refusals: a clear message, nothing changed ----------------------

def test_signup_refusals_explain_and_change_nothing(client: TestClient, db: Session,
                                                    tenant: Tenant) -> None:
    before = _counts(db)
    cases = {
        "email": ({"email": tenant.owner.email}, "already exists"),
        "malformed": ({"email": "rosie-at-example"}, "doesn't look like an email"),
        "weak": ({"password": "password123"}, "too easy to guess"),
        "short": ({"password": "short"}, "at least 10 characters"),
    }
    for name, (fields, message) in cases.items():
        status, html = _signup(client, **fields)
        assert status == 400, name
        assert message in html, name
        assert 'value="Rosie\'s Bakery"' in html, name  # the input is kept
    assert _counts(db) == before


def test_signup_without_csrf_is_refused(client: TestClient, db: Session) -> None:
    before = _counts(db)
    client.get("/signup")
    resp = client.post("/signup", data={"account_name": "X", "email": "x@example.com",
                                        "password": "flour and sugar 42"})
    assert resp.status_code == 403
    assert "This form expired" in _t(resp)
    assert _counts(db) == before


def test_signup_creates_an_owner_with_starting_credits(client: TestClient, db: Session) -> None:
    status, _ = _signup(client, email="  Rosie@Example.COM ")
    assert status == 303
    db.rollback()
    user = db.scalars(select(User).where(User.email == "rosie@example.com")).one()
    member = db.scalars(select(Membership).where(Membership.user_id == user.id)).one()
    assert member.role == Role.OWNER
    assert member.account.kind == AccountKind.INDIVIDUAL
    assert member.account.credit_balance == 1000
    assert user.password_hash.startswith("$argon2")


def test_the_sixth_fast_wrong_password_is_refused_even_if_right(client: TestClient,
                                                               db: Session,
                                                               tenant: Tenant) -> None:
    page = client.get("/login")
    token = csrf_from(page.text)
    for _ in range(5):
        resp = client.post("/login", data={"email": tenant.owner.email, "password": "wrong!",
                                           "csrf_token": token})
        assert resp.status_code == 400
        assert "don't match" in _t(resp)
    sessions = _counts(db)[3]
    resp = client.post("/login", data={"email": tenant.owner.email, "password": PASSWORD,
                                       "csrf_token": token}, follow_redirects=False)
    assert resp.status_code == 429
    assert "Too many wrong passwords" in _t(resp)
    assert _counts(db)[3] == sessions  # no session was started


# --- invites ---------------------------------------------------------------------------

def _invite_link(client: TestClient, owner: User, email: str, role: str) -> str:
    login(client, owner)
    page = client.get("/settings/members")
    resp = client.post("/settings/invites", data={"email": email, "role": role,
                                                  "csrf_token": csrf_from(page.text)})
    assert resp.status_code == 200, resp.text
    assert "won't be shown again" in _t(resp)
    client.cookies.clear()
    return _link_in(resp.text)


def _accept(client: TestClient, link: str, name: str = "Sam") -> tuple[int, str]:
    page = client.get(link)
    if "csrf_token" not in _t(page):
        return page.status_code, page.text
    resp = client.post(link, data={"display_name": name, "password": "bread every morning",
                                   "csrf_token": csrf_from(page.text)}, follow_redirects=False)
    return resp.status_code, resp.text


def test_an_invited_person_joins_with_the_role_once(client: TestClient, db: Session,
                                                   tenant: Tenant) -> None:
    link = _invite_link(client, tenant.owner, "sam@example.com", "operator")
    assert "Join Acme Bakery" in _t(client.get(link))
    status, _ = _accept(client, link)
    assert status == 303
    assert client.get("/").status_code == 200  # logged in as Sam
    db.rollback()
    sam = db.scalars(select(User).where(User.email == "sam@example.com")).one()
    member = db.scalars(select(Membership).where(Membership.user_id == sam.id)).one()
    assert (member.account_id, member.role) == (tenant.account.id, Role.OPERATOR)

    client.cookies.clear()
    status, html = _accept(client, link, name="Mallory")
    assert status == 410
    assert "already used" in html
    assert db.scalar(select(func.count()).select_from(Membership)
                     .where(Membership.user_id == sam.id)) == 1


def test_expired_and_revoked_invites_say_why(client: TestClient, db: Session,
                                            tenant: Tenant) -> None:
    expired = invites.issue(db, tenant.id, email="late@example.com", role=Role.VIEWER,
                            created_by=tenant.owner.id)
    expired.row.expires_at = utcnow() - timedelta(minutes=1)
    revoked = invites.issue(db, tenant.id, email="gone@example.com", role=Role.VIEWER,
                            created_by=tenant.owner.id)
    invites.revoke_invite(db, tenant.ctx(), revoked.row.id)
    db.commit()
    before = _counts(db)
    for issued, message in ((expired, "has expired"), (revoked, "was withdrawn")):
        resp = client.get(issued.path)
        assert resp.status_code == 410 and message in _t(resp)
        token = csrf_from(client.get("/login").text)
        resp = client.post(issued.path, data={"display_name": "X", "csrf_token": token,
                                              "password": "bread every morning"})
        assert resp.status_code == 410 and message in _t(resp)
    assert client.get("/invite/not-a-real-token").status_code == 410
    assert _counts(db) == before


def test_a_logged_in_user_joins_a_second_account(client: TestClient, db: Session,
                                                 tenant: Tenant) -> None:
    other = make_user(db, "second@example.com")
    issued = invites.issue(db, tenant.id, email=other.email, role=Role.VIEWER,
                           created_by=tenant.owner.id)
    db.commit()
    login(client, other)
    page = client.get(issued.path)
    assert "Join Acme Bakery" in _t(page)
    resp = client.post(issued.path, data={"csrf_token": csrf_from(page.text)},
                       follow_redirects=False)
    assert resp.status_code == 303
    assert "Acme Bakery" in _t(client.get("/"))


# --- members, settings, tokens ---------------------------------------------------------

def test_owner_manages_members_but_never_drops_the_last_owner(client: TestClient, db: Session,
                                                              tenant: Tenant) -> None:
    login(client, tenant.owner)
    csrf = csrf_from(client.get("/settings/members").text)
    mine = db.scalars(select(Membership).where(Membership.user_id == tenant.owner.id)).one()
    op = db.scalars(select(Membership).where(Membership.user_id == tenant.operator.id)).one()
    for action, data in (("role", {"role": "viewer"}), ("remove", {})):
        resp = client.post(f"/settings/members/{mine.id}/{action}", data={"csrf_token": csrf,
                                                                         **data})
        assert resp.status_code == 409 and "only owner" in _t(resp)
    resp = client.post(f"/settings/members/{op.id}/role",
                       data={"csrf_token": csrf, "role": "owner"}, follow_redirects=False)
    assert resp.status_code == 303
    resp = client.post(f"/settings/members/{op.id}/remove", data={"csrf_token": csrf},
                       follow_redirects=False)
    assert resp.status_code == 303
    db.rollback()
    roles = {m.user_id: m.role for m in db.scalars(
        select(Membership).where(Membership.account_id == tenant.account.id))}
    assert roles == {tenant.owner.id: Role.OWNER, tenant.viewer.id: Role.VIEWER}


def test_api_tokens_are_shown_once_work_with_their_role_and_revoke(client: TestClient,
                                                                   db: Session,
                                                                   tenant: Tenant) -> None:
    login(client, tenant.owner)
    csrf = csrf_from(client.get("/settings").text)
    resp = client.post("/settings/tokens", data={"token_name": "Zapier", "role": "viewer",
                                                 "csrf_token": csrf})
    m = re.search(r'value="(w4_[^"]+)"', resp.text)
    assert m, "the new token is shown"
    secret = m.group(1)
    listed = client.get("/settings").text
    assert secret not in listed
    assert "<td>Zapier</td>" in listed and "<td>viewer</td>" in listed
    assert 'action="/settings/tokens/' in listed and "No tokens yet." not in listed
    db.rollback()
    row = db.scalars(select(ApiToken).where(ApiToken.name == "Zapier")).one()
    assert secret not in row.token_hash
    api = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=api).json()["role"] == "viewer"
    assert client.post("/api/v1/goals", headers=api, json={"title": "x"}).status_code == 403
    resp = client.post("/settings/tokens", data={"token_name": "", "role": "viewer",
                                                 "csrf_token": csrf})
    assert resp.status_code == 422 and "Name the token" in _t(resp)
    client.post(f"/settings/tokens/{row.id}/revoke", data={"csrf_token": csrf})
    assert client.get("/api/v1/me", headers=api).status_code == 401


def test_owner_renames_the_account(client: TestClient, db: Session, tenant: Tenant) -> None:
    login(client, tenant.owner)
    csrf = csrf_from(client.get("/settings").text)
    resp = client.post("/settings/account", data={"name": "  ", "csrf_token": csrf})
    assert resp.status_code == 422 and "Name your business" in _t(resp)
    client.post("/settings/account", data={"name": "Acme Bakes", "csrf_token": csrf})
    db.rollback()
    assert db.get(Account, tenant.account.id).name == "Acme Bakes"  # type: ignore[union-attr]


# --- the admin console -----------------------------------------------------------------

def _admin(db: Session) -> User:
    admin = accounts.ensure_admin(db, "admin@example.com", PASSWORD)
    db.commit()
    return admin


def test_admin_provisions_a_concierge_account_whose_owner_submits_a_goal(
        client: TestClient, db: Session, runner: EmbeddedRunner) -> None:
    login(client, _admin(db))
    page = client.get("/admin/accounts/new")
    resp = client.post("/admin/accounts", data={
        "name": "Flora's Flowers", "email": "flora@example.com", "credit_allowance": "2500",
        "plan_notes": "Monthly plan", "csrf_token": csrf_from(page.text)})
    assert resp.status_code == 200, resp.text
    link = _link_in(resp.text)
    assert "Credits: 2,500" in _t(resp)
    listing = _t(client.get("/admin"))
    assert "Flora's Flowers" in listing and "2,500" in listing and "concierge" in listing

    client.cookies.clear()
    status, _ = _accept(client, link, name="Flora")
    assert status == 303
    client.cookies.clear()
    db.rollback()
    flora = db.scalars(select(User).where(User.email == "flora@example.com")).one()
    login(client, flora, password="bread every morning")
    home = client.get("/")
    assert "Flora's Flowers" in _t(home)
    resp = client.post("/goals", data={"title": "Plan a spring promotion",
                                       "csrf_token": csrf_from(home.text)},
                       follow_redirects=False)
    assert resp.status_code == 303
    runner.wait_idle()
    db.rollback()
    goal = db.scalars(select(Goal).where(Goal.title == "Plan a spring promotion")).one()
    account = db.get(Account, goal.account_id)
    assert account is not None and account.kind == AccountKind.CONCIERGE
    assert account.plan_notes == "Monthly plan"
    assert goal.status != GoalStatus.FAILED


def test_admin_grants_adjusts_suspends_and_reactivates(client: TestClient, db: Session,
                                                       tenant: Tenant) -> None:
    login(client, _admin(db))
    base = f"/admin/accounts/{tenant.account.id}"
    csrf = csrf_from(client.get(base).text)
    client.post(f"{base}/credits", data={"amount": "500", "reason": "Top-up",
                                         "csrf_token": csrf})
    resp = client.post(f"{base}/credits", data={"amount": "-100", "reason": "",
                                                "csrf_token": csrf})
    assert resp.status_code == 422 and "Say why" in _t(resp)
    client.post(f"{base}/credits", data={"amount": "-100", "reason": "Refund correction",
                                         "csrf_token": csrf})
    resp = client.post(f"{base}/credits", data={"amount": "lots", "csrf_token": csrf})
    assert resp.status_code == 422 and "whole number" in _t(resp)
    db.rollback()
    assert credits.balance(db, tenant.id) == 1400

    client.post(f"{base}/suspend", data={"csrf_token": csrf})
    db.rollback()
    assert db.get(Account, tenant.account.id).status == AccountStatus.SUSPENDED  # type: ignore[union-attr]
    operator = TestClient(client.app)
    login(operator, tenant.operator)
    home = operator.get("/")
    assert home.status_code == 200 and "suspended" in _t(home)
    resp = operator.post("/goals", data={"title": "New work", "csrf_token": csrf_from(home.text)})
    assert resp.status_code == 403
    client.post(f"{base}/reactivate", data={"csrf_token": csrf})
    db.rollback()
    assert db.get(Account, tenant.account.id).status == AccountStatus.ACTIVE  # type: ignore[union-attr]
    assert db.scalar(select(func.count()).select_from(Goal)) == 0


def test_admin_reissues_an_owner_invite(client: TestClient, db: Session, tenant: Tenant) -> None:
    login(client, _admin(db))
    base = f"/admin/accounts/{tenant.account.id}"
    csrf = csrf_from(client.get(base).text)
    resp = client.post(f"{base}/invite", data={"email": "new-owner@example.com",
                                               "csrf_token": csrf})
    assert "/invite/" in _link_in(resp.text)
    db.rollback()
    row = db.scalars(select(Invite).where(Invite.email == "new-owner@example.com")).one()
    assert row.role == Role.OWNER and row.account_id == tenant.account.id
    assert client.get("/admin/accounts/999999").status_code == 404


class _Recorder:
    """A job queue that only remembers what it was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def submit(self, name: str, kwargs: dict[str, Any], countdown: float = 0.0) -> None:
        self.sent.append((name, kwargs))


def test_added_credits_and_reactivation_resume_blocked_work(client: TestClient, db: Session,
                                                            tenant: Tenant,
                                                            runner: EmbeddedRunner) -> None:
    login(client, _admin(db))
    base = f"/admin/accounts/{tenant.account.id}"
    csrf = csrf_from(client.get(base).text)
    recorder = _Recorder()
    set_queue(recorder)
    try:
        client.post(f"{base}/credits", data={"amount": "50", "reason": "", "csrf_token": csrf})
        client.post(f"{base}/credits", data={"amount": "-10", "reason": "Fix",
                                             "csrf_token": csrf})
        client.post(f"{base}/suspend", data={"csrf_token": csrf})
        client.post(f"{base}/reactivate", data={"csrf_token": csrf})
    finally:
        set_queue(runner)
    resume = ("resume_account", {"account_id": tenant.account.id})
    assert recorder.sent == [resume, resume]  # the grant and the reactivation, not the cut

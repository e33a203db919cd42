"""Issue 23's bugs that show in the server's answers (the browser ones are in
tests/browser/test_operator_day_bugs.py): each test failed before its fix."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import (
    Tenant,
    csrf_from,
    login,
    make_card_in_review,
    make_planned_goal,
    make_tenant,
    make_user,
    plan_of,
)
from web4os.accounts.models import AccountStatus
from web4os.goals.models import Task, TaskStatus
from web4os.goals.scheduling import queue_task

BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}


def _text(resp: object) -> str:
    return html.unescape(resp.text)  # type: ignore[attr-defined]


def _words(resp: object) -> str:
    """The page's text without its tags."""
    return re.sub(r"<[^>]+>", "", _text(resp))


# --- 1. the ledger export is a download, even when htmx fetches it -------------------

def test_a_boosted_fetch_of_the_ledger_csv_opens_it_as_a_download(client: TestClient,
                                                                  tenant: Tenant) -> None:
    login(client, tenant.owner)
    resp = client.get("/usage/ledger.csv", headers=BOOSTED)
    assert resp.status_code == 200 and resp.text == ""
    assert resp.headers["HX-Redirect"] == "/usage/ledger.csv"
    assert resp.headers["HX-Push-Url"] == "false"
    plain = client.get("/usage/ledger.csv")  # what the browser then asks for: the file
    assert plain.headers["content-disposition"].startswith("attachment")
    assert plain.text.startswith("created_at") or "kind" in plain.text.splitlines()[0]


# --- 2. no 405 after reloading a form's answer; error pages keep the nav ---------------

def test_a_405_or_404_page_keeps_the_signed_in_navigation(client: TestClient,
                                                          tenant: Tenant) -> None:
    login(client, tenant.owner)
    for path, status in (("/settings/invites", 405), ("/tasks/1/approve", 405),
                         ("/goals", 405), ("/no/such/page", 404)):
        resp = client.get(path)
        assert resp.status_code == status, path
        assert "Log out" in resp.text and 'href="/inbox"' in resp.text, path
        assert 'href="/login"' not in resp.text, path


def test_a_boosted_form_answer_keeps_the_form_pages_address(client: TestClient,
                                                             tenant: Tenant) -> None:
    login(client, tenant.owner)
    token = csrf_from(client.get("/settings/members").text)
    made = client.post("/settings/invites", headers=BOOSTED, data={
        "email": "new@example.com", "role": "operator", "csrf_token": token})
    assert made.status_code == 200 and "/invite/" in made.text
    assert made.headers["HX-Push-Url"] == "false"  # the address stays /settings/members
    refused = client.post("/settings/invites", headers=BOOSTED, data={
        "email": "not an email", "role": "operator", "csrf_token": token})
    assert refused.status_code == 422 and refused.headers["HX-Push-Url"] == "false"


def test_a_failed_action_shown_in_a_toast_leaves_the_address_alone(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    task = make_card_in_review(db, tenant, "## Draft")
    tenant.account.status = AccountStatus.SUSPENDED
    db.commit()
    login(client, tenant.owner)
    token = csrf_from(client.get(f"/goals/{task.goal_id}/tasks/{task.id}").text)
    for action in ("approve", "retry"):
        resp = client.post(f"/tasks/{task.id}/{action}", headers=BOOSTED,
                           data={"csrf_token": token})
        assert resp.headers["HX-Retarget"] == "#toast", action
        assert resp.headers["HX-Push-Url"] == "false", action
    resp = client.post("/goals", headers=BOOSTED, data={"title": "More", "csrf_token": token})
    assert resp.headers["HX-Push-Url"] == "false"


def test_a_new_concierge_account_shows_at_its_own_address(client: TestClient, db: Session,
                                                           tenant: Tenant) -> None:
    admin = make_user(db, "root@example.com")
    admin.is_platform_admin = True
    db.commit()
    login(client, admin)
    token = csrf_from(client.get("/admin/accounts/new").text)
    resp = client.post("/admin/accounts", headers=BOOSTED, data={
        "name": "Corner Deli", "email": "deli@example.com", "credit_allowance": "500",
        "plan_notes": "", "csrf_token": token})
    assert resp.status_code == 200 and "Send this owner invite" in resp.text
    assert re.fullmatch(r"/admin/accounts/\d+", resp.headers["HX-Push-Url"])
    assert client.get(resp.headers["HX-Push-Url"]).status_code == 200


# --- 4. a platform admin signs in to the console ---------------------------------------

def test_a_platform_admin_without_an_account_signs_in_to_the_console(
        client: TestClient, db: Session) -> None:
    admin = make_user(db, "ops@example.com")
    admin.is_platform_admin = True
    db.commit()
    page = client.get("/login")
    resp = client.post("/login", data={"email": admin.email, "password": "correct horse battery",
                                       "next": "/", "csrf_token": csrf_from(page.text)})
    assert resp.status_code == 200
    assert str(resp.url).endswith("/admin")
    assert "You don't belong to an account yet" not in _text(resp)
    again = client.get("/login", follow_redirects=False)  # already signed in
    assert again.headers["location"] == "/admin"


# --- 6. an admin's refused adjustment speaks to the admin ------------------------------

def test_an_adjustment_larger_than_the_balance_is_explained_to_the_admin(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    admin = make_user(db, "root@example.com")
    admin.is_platform_admin = True
    db.commit()
    login(client, admin)
    page = client.get(f"/admin/accounts/{tenant.id}")
    resp = client.post(f"/admin/accounts/{tenant.id}/credits", data={
        "amount": "-99999", "reason": "correction", "csrf_token": csrf_from(page.text)})
    text = _text(resp)
    assert resp.status_code == 422
    assert "top up or ask your admin" not in text
    assert "This account has 1,000 credits: an adjustment can take away at most that many" in text
    assert 'value="-99999"' in text


# --- 7. the new-account banner is for the owner of a fresh account ----------------------

def test_only_the_owner_of_a_fresh_account_is_welcomed(client: TestClient, db: Session,
                                                       tenant: Tenant) -> None:
    login(client, tenant.owner)
    assert "Your account is ready" in client.get("/?welcome=1").text
    db.rollback()  # a fresh snapshot before writing: the app wrote meanwhile
    make_planned_goal(db, tenant, plan_of(("a", "writer", [])))
    db.commit()
    assert "Your account is ready" not in client.get("/?welcome=1").text
    client.cookies.clear()
    login(client, tenant.operator)
    joined = _text(client.get("/?joined=1"))
    assert "Your account is ready" not in joined
    assert f"You've joined {tenant.account.name} as operator." in joined


# --- 8. the low-credit warning comes before zero -----------------------------------------

def _chip(text: str) -> str:
    m = re.search(r'<a class="chip chip-credits[^>]*>[^<]*</a>', text)
    assert m, "no credits chip"
    return m.group(0)


def test_low_credits_warn_while_work_waits_or_under_the_low_mark(client: TestClient,
                                                                  db: Session) -> None:
    broke = make_tenant(db, "Broke", credits=1)
    goal = make_planned_goal(db, broke, plan_of(("a", "writer", []), ("b", "writer", []),
                                                credits=2))
    for task in db.query(Task).filter_by(goal_id=goal.id):
        assert not queue_task(db, task, actor="test", reason="go")
        assert task.status == TaskStatus.BLOCKED
    db.commit()
    login(client, broke.owner)
    usage = _text(client.get("/usage"))
    assert "chip-credits-low" in _chip(usage) and "1 credit · low" in _chip(usage)
    assert "You're low on credits: 1 credit left. 2 cards or goals wait for credits." in usage

    db.rollback()  # a fresh snapshot before writing: the app wrote meanwhile
    rich = make_tenant(db, "Rich", credits=1000)
    quiet = make_tenant(db, "Quiet", credits=5)  # nothing waits, but under its threshold (100)
    db.commit()
    for who, low in ((rich, False), (quiet, True)):
        client.cookies.clear()
        login(client, who.owner)
        page = _text(client.get("/usage"))
        assert ("chip-credits-low" in _chip(page)) is low
        assert ('id="low-credits"' in page) is low


# --- 9. one way to count ------------------------------------------------------------------

def test_one_credit_and_two_credits(client: TestClient, db: Session) -> None:
    from web4os.web.templating import counted

    assert [counted(n, "credit") for n in (0, 1, 2, 1000)] == [
        "0 credits", "1 credit", "2 credits", "1,000 credits"]
    for n in (1, 2):
        db.rollback()  # a fresh snapshot before writing: the app wrote meanwhile
        t = make_tenant(db, f"Shop {n}", credits=n)
        goal = make_planned_goal(db, t, plan_of(("a", "writer", [])))
        goal.credits_spent = n
        db.commit()
        login(client, t.owner)
        word = "credit" if n == 1 else "credits"
        assert re.search(rf">{n} {word}( · low)?</a>", _chip(client.get("/").text))
        board = client.get(f"/goals/{goal.id}").text
        assert f"<strong>{n}</strong> {word} spent" in board
        assert "of 1 card done" in board  # a one-card plan
        client.cookies.clear()


# --- 10. the 403 page names the role the action needs ---------------------------------------

def test_a_refusal_names_the_role_it_needs(client: TestClient, tenant: Tenant) -> None:
    login(client, tenant.operator)
    text = _words(client.get("/settings"))
    assert "This needs owner access, and your role is operator." in text
    assert "give you operator access" not in text
    client.cookies.clear()
    login(client, tenant.viewer)
    page = client.get("/")
    resp = client.post("/goals", data={"title": "x", "csrf_token": csrf_from(page.text)})
    assert resp.status_code == 403
    assert "This needs operator access, and your role is viewer." in _words(resp)


# --- 11. the goal field's limit is the server's, with a counter -----------------------------

def test_the_goal_field_has_the_servers_limit_and_a_too_long_title_is_kept(
        client: TestClient, tenant: Tenant) -> None:
    login(client, tenant.operator)
    home = client.get("/").text
    field = re.search(r'<input id="f-title"[^>]*>', home)
    assert field and 'maxlength="200"' in field.group(0)
    assert 'data-count-for="f-title">Up to 200 characters.' in home
    long_title = "x" * 201
    resp = client.post("/goals", data={"title": long_title, "csrf_token": csrf_from(home)})
    assert resp.status_code == 400
    assert "Keep the title under 200 characters" in _text(resp)
    assert f'value="{long_title}"' in resp.text

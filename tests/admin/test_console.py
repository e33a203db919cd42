"""The admin console through HTTP: search and filters, the confirmation before a
suspension, and the ledger read per card with totals that keep debits out of "added"."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from tests.factories import (
    PASSWORD,
    Tenant,
    add_member,
    csrf_from,
    login,
    make_card_in_review,
    make_goal,
    make_tenant,
    make_user,
)
from web4os.accounts import service as accounts
from web4os.accounts.invites import issue
from web4os.accounts.models import Account, AccountStatus, Role, User
from web4os.admin import ledger
from web4os.credits import service as credits
from web4os.credits.models import CreditLedgerEntry
from web4os.credits.service import Refs
from web4os.goals.models import Goal


def _admin(db: Session) -> User:
    admin = accounts.ensure_admin(db, "admin@example.com", PASSWORD)
    db.commit()
    return admin


def _text(html: str) -> str:
    return html_lib.unescape(" ".join(re.sub(r"<[^>]+>", " ", html).split()))


def _listed(html: str) -> list[str]:
    """Account names in the admin's table, in order."""
    table = html.split('id="admin-accounts"', 1)[1] if 'id="admin-accounts"' in html else ""
    return [html_lib.unescape(n) for n in
            re.findall(r'<a href="/admin/accounts/\d+">([^<]+)</a>', table)]


def test_accounts_are_searched_by_name_or_owner_email_and_filtered(
        client: TestClient, db: Session) -> None:
    bakery = make_tenant(db, "Rosa's Bakery", credits=5000)
    garage = make_tenant(db, "Main Street Garage", credits=40)
    florist = make_tenant(db, "Flora's Flowers", credits=3000)
    florist.account.status = AccountStatus.SUSPENDED
    issue(db, florist.id, email="pending-owner@example.com", role=Role.OWNER, created_by=None)
    db.commit()
    login(client, _admin(db))

    everyone = client.get("/admin").text
    assert _listed(everyone) == ["Flora's Flowers", "Main Street Garage", "Rosa's Bakery"]
    assert bakery.owner.email in everyone and "pending-owner@example.com" in everyone
    assert _listed(client.get("/admin", params={"q": "garage"}).text) == ["Main Street Garage"]
    assert _listed(client.get("/admin", params={"q": bakery.owner.email.upper()}).text) == [
        "Rosa's Bakery"]
    assert _listed(client.get("/admin", params={"q": "pending-owner"}).text) == [
        "Flora's Flowers"]
    # an operator's or viewer's email is not an owner's: it does not find the account
    assert _listed(client.get("/admin", params={"q": garage.operator.email}).text) == []
    # LIKE wildcards in the search are taken literally
    assert _listed(client.get("/admin", params={"q": "%"}).text) == []

    assert _listed(client.get("/admin?only=suspended").text) == ["Flora's Flowers"]
    assert _listed(client.get("/admin?only=low").text) == ["Main Street Garage"]
    assert _listed(client.get("/admin?only=low&q=rosa").text) == []
    assert "No account matches “rosa” among accounts low on credits" in _text(
        client.get("/admin?only=low&q=rosa").text)
    assert len(_listed(client.get("/admin?only=bogus").text)) == 3
    # "low" is each account's own threshold, the one that warns its members
    db.rollback()  # a fresh snapshot before writing: the app wrote meanwhile
    db.execute(update(Account).where(Account.name == "Rosa's Bakery")
               .values(low_credit_threshold=10**6))
    db.execute(update(Account).where(Account.name == "Main Street Garage")
               .values(low_credit_threshold=0))
    db.commit()
    assert _listed(client.get("/admin?only=low").text) == ["Rosa's Bakery"]


def test_the_list_shows_last_activity_balance_and_spend(client: TestClient, db: Session,
                                                        tenant: Tenant) -> None:
    quiet = make_tenant(db, "Quiet Shop", credits=250)
    long_ago = datetime(2024, 3, 5, 12, tzinfo=UTC)
    db.execute(update(Account).where(Account.id == quiet.account.id).values(created_at=long_ago))
    db.execute(update(CreditLedgerEntry).where(CreditLedgerEntry.account_id == quiet.account.id)
               .values(created_at=long_ago))
    old_goal = make_goal(db, quiet, "Spring menu")
    db.execute(update(Goal).where(Goal.id == old_goal.id)
               .values(created_at=long_ago, updated_at=datetime(2025, 6, 1, tzinfo=UTC)))
    task = make_card_in_review(db, tenant, "Draft")
    refs = Refs(goal_id=task.goal_id, task_id=task.id)
    credits.reserve(db, tenant.id, f"task:{task.id}:a1", 9, refs=refs, reason="Card")
    credits.settle(db, tenant.id, f"task:{task.id}:a1", 6, refs=refs, reason="Card")
    db.commit()
    login(client, _admin(db))
    rows = {r.split(" ", 1)[0]: r for r in _row_texts(client.get("/admin").text)}
    # the latest of its goal changes, credit movements and sign-ins
    assert "01 Jun 2025" in rows["Quiet"] and "250" in rows["Quiet"]
    # balance 994, spent 6, activity now (the card's goal and its charge)
    assert re.search(r"994 6 (just now|\d+ s ago)", rows["Acme"]), rows["Acme"]


def _row_texts(html: str) -> list[str]:
    table = html.split('id="admin-accounts"', 1)[1].split("</table>", 1)[0]
    return [_text(r) for r in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)]


def test_suspending_asks_first_and_the_confirmation_works_without_javascript(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    login(client, _admin(db))
    base = f"/admin/accounts/{tenant.account.id}"
    page = client.get(base).text
    # the account page links to the confirmation; it holds no form that suspends at once
    assert f'href="{base}/suspend"' in page and f'action="{base}/suspend"' not in page
    confirm = client.get(f"{base}/suspend")
    assert confirm.status_code == 200
    assert f"Suspend {tenant.account.name}?" in _text(confirm.text) and "3 members" in _text(confirm.text)
    db.rollback()
    assert db.get(Account, tenant.account.id).status == AccountStatus.ACTIVE  # type: ignore[union-attr]
    resp = client.post(f"{base}/suspend", data={"csrf_token": csrf_from(confirm.text)},
                       follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == base
    db.rollback()
    assert db.get(Account, tenant.account.id).status == AccountStatus.SUSPENDED  # type: ignore[union-attr]
    assert "already suspended" in client.get(f"{base}/suspend").text
    assert client.get("/admin/accounts/999999/suspend").status_code == 404


def test_suspend_confirmation_is_for_admins_only(client: TestClient, db: Session,
                                                 tenant: Tenant) -> None:
    login(client, tenant.owner)
    assert client.get(f"/admin/accounts/{tenant.account.id}/suspend").status_code == 404


def test_ledger_reads_one_line_per_card_and_totals_keep_debits_apart(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    card = make_card_in_review(db, tenant, "Draft")
    refs = Refs(goal_id=card.goal_id, task_id=card.id)
    credits.reserve(db, tenant.id, f"task:{card.id}:a1", 10, refs=refs, reason="Card")
    credits.settle(db, tenant.id, f"task:{card.id}:a1", 7, refs=refs, reason="Card")
    credits.reserve(db, tenant.id, f"task:{card.id}:a2", 5, refs=refs, reason="Card")
    other = make_card_in_review(db, tenant, "Draft", title="Second goal")
    other_refs = Refs(goal_id=other.goal_id, task_id=other.id)
    credits.reserve(db, tenant.id, f"task:{other.id}:a1", 4, refs=other_refs, reason="Card")
    credits.settle(db, tenant.id, f"task:{other.id}:a1", 4, refs=other_refs, reason="Card")
    credits.grant(db, tenant.id, 500, actor="admin:x", reason="Top-up")
    credits.adjust(db, tenant.id, -300, actor="admin:x", reason="Wrong grant")
    db.commit()

    lines = ledger.ledger_lines(db, tenant.account.id)
    assert [(line.kind, line.amount, line.held) for line in lines] == [
        ("adjustment", -300, 0), ("grant", 500, 0), ("card", -4, 0), ("card", -12, 5),
        ("grant", 1000, 0)]
    assert lines[3].charged == 7 and lines[3].task_title == card.title
    totals = ledger.totals(db, tenant.account.id)
    assert (totals.added, totals.removed, totals.charged, totals.held) == (1500, 300, 11, 5)
    assert totals.balance() == credits.balance(db, tenant.id) == 1184

    login(client, _admin(db))
    page = client.get(f"/admin/accounts/{tenant.account.id}").text
    table = _text(page.split('id="admin-ledger"', 1)[1].split("</table>", 1)[0])
    assert table.count("Card “") == 2 and "5 held, running" in table and "-12" in table
    assert "reservation" not in table and "settlement" not in table
    totals_html = _text(page.split('id="ledger-totals"', 1)[1].split("</dl>", 1)[0])
    assert "Added 1,500" in totals_html and "Removed 300" in totals_html

    # the owner's usage page does not count the correction as credits added either
    owner = TestClient(client.app)
    login(owner, tenant.owner)
    usage = _text(owner.get("/usage").text)
    assert "Added 1,500" in usage


def test_admin_who_belongs_to_an_account_sees_it_in_the_console(client: TestClient,
                                                                 db: Session) -> None:
    admin = _admin(db)
    t = make_tenant(db, "Admin's own shop")
    add_member(db, t.account, make_user(db), Role.VIEWER)
    db.commit()
    login(client, admin)
    assert "Admin's own shop" in _listed(client.get("/admin").text)


def test_a_search_with_a_nul_or_a_bidi_override_is_refused_not_run(client: TestClient,
                                                                     db: Session) -> None:
    make_tenant(db, "Rosa's Bakery")
    db.commit()
    login(client, _admin(db))
    for hostile in ("ro\x00sa", "ro\u202esa"):
        resp = client.get("/admin", params={"q": hostile})
        assert resp.status_code == 422 and 'role="alert"' in resp.text
        assert _listed(resp.text) == []


def test_admin_tokens_page_makes_lists_and_revokes_a_token(client: TestClient,
                                                          db: Session) -> None:
    login(client, _admin(db))
    page = client.get("/admin/tokens")
    assert "No admin tokens yet." in page.text
    made = client.post("/admin/tokens", data={"csrf_token": csrf_from(page.text),
                                              "name": "Billing script"})
    secret = re.search(r"w4a_[A-Za-z0-9_\-]+", made.text)
    assert made.status_code == 200 and secret, "the new token is shown once"
    listed = client.get("/admin/tokens").text
    assert secret.group(0) not in listed
    assert "<td>Billing script</td>" in listed and "<td>admin@example.com</td>" in listed
    token_id = re.search(r'action="/admin/tokens/(\d+)/revoke"', listed)
    assert token_id
    api = {"Authorization": f"Bearer {secret.group(0)}"}
    assert client.get("/api/v1/admin/accounts", headers=api).status_code == 200
    client.post(f"/admin/tokens/{token_id.group(1)}/revoke",
                data={"csrf_token": csrf_from(listed)})
    assert "revoked" in client.get("/admin/tokens").text
    assert client.get("/api/v1/admin/accounts", headers=api).status_code == 401


def test_the_ledger_pages_back_through_older_lines(client: TestClient, db: Session,
                                                   tenant: Tenant) -> None:
    for n in range(1, ledger.PAGE_LINES + 6):
        credits.grant(db, tenant.id, n, actor="admin:x", reason=f"Grant {n}")
    db.commit()
    login(client, _admin(db))
    base = f"/admin/accounts/{tenant.account.id}"
    first = client.get(base).text
    assert set(re.findall(r"Grant: Grant (\d+) ", _text(first))) == {
        str(n) for n in range(6, ledger.PAGE_LINES + 6)}
    older = re.search(r'href="(/admin/accounts/\d+\?before=\d+)#ledger-h" rel="next"', first)
    assert older is not None
    second = client.get(html_lib.unescape(older.group(1))).text
    shown = set(re.findall(r"Grant: Grant (\d+) ", _text(second)))
    assert shown == {"1", "2", "3", "4", "5"}, shown  # the rest, none twice
    assert "Older ledger lines" in second and 'rel="next"' not in second
    assert "Newest lines" in second
    assert client.get(f"{base}?before=0").status_code == 422

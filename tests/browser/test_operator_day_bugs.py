"""Issue 23's bugs that show in a browser, tried in Debian's chromium: the ledger export
downloads, a reload after a form post shows the form's page signed in, an admin signs
in to the console, the board fits 1280 px, and the goal field counts to its limit.

The server-side halves (headers, wording) are in tests/web/test_operator_day_bugs.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from tests.browser.conftest import shot
from tests.factories import (
    PASSWORD,
    Tenant,
    make_user,
)
from tests.support.boards import big_goal
from web4os.goals.models import Task, TaskStatus


def _log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.fill("#f-email", email)
    page.fill("#f-password", PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url)


def _signed_in(page: Page) -> None:
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_role("link", name="Log in")).to_have_count(0)


def _reload_shows(page: Page, path: str) -> None:
    """A reload lands on ``path`` itself, signed in: never the POST address's 405."""
    page.reload()
    assert re.sub(r"^https?://[^/]+", "", page.url) == path, page.url
    expect(page.locator("main")).not_to_contain_text("Error 405")
    _signed_in(page)


# --- 1 ---------------------------------------------------------------------------------

def test_the_ledger_export_downloads_and_the_page_stays(page: Page, tenant: Tenant) -> None:
    _log_in(page, tenant.owner.email)
    page.get_by_role("link", name="Usage").click()
    page.wait_for_url("**/usage")
    link = page.get_by_role("link", name="Export ledger (CSV)")
    # Even if htmx does take the link over (here: boosted by hand), the file downloads.
    for boosted in (False, True):
        if boosted:
            link.evaluate("a => { a.setAttribute('hx-boost', 'true'); htmx.process(a); }")
        with page.expect_download() as info:
            link.click()
        download = info.value
        assert re.fullmatch(r"web4os-credits-\d+-\d{8}\.csv", download.suggested_filename)
        with open(download.path(), encoding="utf-8") as f:
            assert "grant" in f.read()
        assert page.url.endswith("/usage")
        expect(page.get_by_role("heading", name="Usage", level=1)).to_be_visible()


# --- 2 ---------------------------------------------------------------------------------

def test_reloading_after_an_invite_shows_the_members_page(page: Page, tenant: Tenant) -> None:
    _log_in(page, tenant.owner.email)
    page.goto("/settings/members")
    page.fill("#f-email", "new.hire@example.com")
    page.get_by_role("button", name="Create invite link").click()
    expect(page.locator("#invite-link")).to_be_visible()
    assert page.url.endswith("/settings/members")
    _reload_shows(page, "/settings/members")
    expect(page.locator("main")).to_contain_text("new.hire@example.com")  # pending invite


def test_reloading_after_a_concierge_account_shows_its_page(page: Page, db: Session) -> None:
    admin = make_user(db, "root@example.com")
    admin.is_platform_admin = True
    db.commit()
    _log_in(page, admin.email)
    page.goto("/admin/accounts/new")
    page.fill("#f-name", "Corner Deli")
    page.fill("#f-email", "deli@example.com")
    page.get_by_role("button", name="Create account and invite link").click()
    expect(page.locator("#invite-link")).to_be_visible()
    page.wait_for_url(re.compile(r"/admin/accounts/\d+$"))
    _reload_shows(page, re.sub(r"^https?://[^/]+", "", page.url))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Corner Deli")


def test_reloading_after_a_refused_post_shows_the_form_page(page: Page, tenant: Tenant) -> None:
    """A post the server refuses re-renders its page; a reload then shows that page,
    signed in, not the POST address's 405. (The approve, retry and goal buttons that a
    suspended account or an empty wallet cannot use are not offered at all:
    ``test_console_journeys``, ``test_triage``; ``tests/web`` covers the headers.)"""
    _log_in(page, tenant.owner.email)
    page.goto("/")  # a goal title past the server's limit (the field's maxlength removed)
    page.evaluate("document.querySelector('#f-title').removeAttribute('maxlength')")
    page.fill("#f-title", "x" * 250)
    page.get_by_role("button", name="Plan it").click()
    expect(page.locator("main")).to_contain_text("200")
    _reload_shows(page, "/")

    page.goto("/settings/members")  # an invite for an address that isn't one
    page.fill("#f-email", "not an address")
    page.locator("form[action='/settings/invites'] button[type=submit]").click()
    expect(page.locator("main")).to_contain_text("doesn't look like an email")
    _reload_shows(page, "/settings/members")


# --- 4 ---------------------------------------------------------------------------------

def test_an_admin_signs_in_to_the_console_after_a_wrong_password(page: Page,
                                                                 db: Session) -> None:
    admin = make_user(db, "ops@example.com")
    admin.is_platform_admin = True
    db.commit()
    page.goto("/login")
    page.fill("#f-email", admin.email)
    page.fill("#f-password", "not the password")
    page.locator("form[action='/login'] button[type=submit]").click()
    expect(page.locator("main")).to_contain_text("don't match")
    page.fill("#f-password", PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url("**/admin")
    expect(page.locator("#toast")).to_be_empty()
    expect(page.locator("main")).not_to_contain_text("don't match")
    expect(page.get_by_role("link", name="Admin", exact=True)).to_be_visible()


# --- 5 ---------------------------------------------------------------------------------

@pytest.fixture
def desktop(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server)
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


BOARD_FIT = """() => {
  const board = document.querySelector('.board');
  const main = document.querySelector('main');
  const widths = [...board.querySelectorAll('.column')].map(c => c.getBoundingClientRect().width);
  const clipped = [...board.querySelectorAll('.column')].filter(c =>
      c.scrollWidth > c.clientWidth + 1).map(c => c.id);
  const right = el => el.getBoundingClientRect().right;
  return {board: board.scrollWidth, main: main.clientWidth, widths, clipped,
          stuck: right(document.getElementById('col-stuck')), edge: right(main),
          page: document.documentElement.scrollWidth - window.innerWidth};
}"""


def test_the_board_fits_1280px_with_equal_columns(desktop: Page, db: Session,
                                                  tenant: Tenant) -> None:
    S = TaskStatus
    mix = ((S.PLANNED, 3), (S.QUEUED, 2), (S.RUNNING, 2), (S.NEEDS_REVIEW, 3), (S.DONE, 4),
           (S.FAILED, 2), (S.BLOCKED, 1))
    goal = big_goal(db, tenant, mix, title="Open a second bakery")
    long = db.query(Task).filter_by(goal_id=goal.id, key="t0").one()
    long.title = "Supercalifragilisticexpialidocious" * 4  # one unbreakable word
    db.commit()
    _log_in(desktop, tenant.operator.email)
    desktop.goto(f"/goals/{goal.id}")
    expect(desktop.locator("#col-stuck .card").first).to_be_visible()
    fit = desktop.evaluate(BOARD_FIT)
    shot(desktop, "board-1280")
    assert len(fit["widths"]) == 7  # with cards on hold, their column too
    assert fit["board"] <= fit["main"], fit
    assert fit["page"] <= 0, fit
    assert max(fit["widths"]) - min(fit["widths"]) < 1, fit["widths"]
    assert not fit["clipped"], fit
    assert fit["stuck"] <= min(fit["edge"], 1280), fit  # "Failed or stopped" in full


# --- 11 --------------------------------------------------------------------------------

def test_the_goal_field_stops_at_the_servers_limit_and_counts(page: Page,
                                                             tenant: Tenant) -> None:
    _log_in(page, tenant.operator.email)
    counter = page.locator("#c-title")
    expect(counter).to_have_text("0 of 200 characters")
    page.fill("#f-title", "Launch a newsletter")
    expect(counter).to_have_text("19 of 200 characters")
    page.locator("#f-title").fill("")
    page.locator("#f-title").press_sequentially("y" * 10)
    page.locator("#f-title").evaluate("el => el.select()")
    page.keyboard.insert_text("z" * 10_000)
    assert len(page.locator("#f-title").input_value()) == 200
    expect(counter).to_have_text("200 of 200 characters: the limit")

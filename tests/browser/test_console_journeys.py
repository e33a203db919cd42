"""Two journeys in a real browser, at desktop (1280x800) and phone (390x844) sizes, with
screenshots of each step kept as CI artifacts (tests/support/screens.py):

(a) a platform admin provisions a concierge account, tops it up, finds it by its owner's
    email and suspends it through the confirmation step;
(b) an invited operator and an invited viewer accept their invites and see what they may
    do and what they may not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from tests.factories import PASSWORD, Tenant, make_card_in_review
from tests.support.screens import screenshot
from web4os.accounts import service as accounts

SIZES = {"desktop": {"width": 1280, "height": 800}, "mobile": {"width": 390, "height": 844}}
NEW_PASSWORD = "bread every morning"
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"

Opener = Callable[[], Page]


@pytest.fixture(params=list(SIZES))
def size(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_page(browser: Browser, live_server: str, size: str) -> Iterator[Opener]:
    """New browser contexts (one person each) at the test's size; no page may log errors."""
    contexts = []
    errors: list[str] = []

    def opener() -> Page:
        context = browser.new_context(viewport=SIZES[size], base_url=live_server)  # type: ignore[arg-type]
        context.set_default_timeout(20_000)
        contexts.append(context)
        pg = context.new_page()
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        return pg

    yield opener
    for context in contexts:
        context.close()
    errors = [e for e in errors if not re.search(r"status of 4\d\d", e)]
    assert not errors, f"the page logged errors: {errors}"


def _log_in(page: Page, email: str, password: str, next_path: str = "/") -> None:
    page.goto(f"/login?next={next_path}")
    page.fill("#f-email", email)
    page.fill("#f-password", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: urlsplit(url).path == next_path)


def _fits(page: Page) -> None:
    assert page.evaluate(NO_SIDEWAYS_SCROLL), "the page scrolls sideways"


def test_admin_provisions_tops_up_and_suspends_a_concierge_account(
        open_page: Opener, db: Session, size: str) -> None:
    accounts.ensure_admin(db, "root@example.com", PASSWORD)
    db.commit()
    page = open_page()
    _log_in(page, "root@example.com", PASSWORD, "/admin")
    screenshot(page, f"admin-{size}-1-accounts")

    page.get_by_role("link", name="New concierge account").click()
    page.fill("#f-name", "Flora's Flowers")
    page.fill("#f-email", "flora@example.com")
    page.fill("#f-credit_allowance", "5000")
    page.get_by_role("button", name="Create account and invite link").click()
    expect(page.locator("#invite-link")).to_have_value(re.compile(r"/invite/"))
    expect(page.get_by_role("heading", name="Credits: 5,000")).to_be_visible()
    screenshot(page, f"admin-{size}-2-provisioned")

    page.fill("#f-amount", "2500")
    page.fill("#f-reason", "Monthly allowance")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("heading", name="Credits: 7,500")).to_be_visible()
    totals = page.locator("#ledger-totals")
    expect(totals.locator("div").first).to_contain_text("7,500")
    expect(page.locator("#admin-ledger")).to_contain_text("Monthly allowance")
    _fits(page)
    screenshot(page, f"admin-{size}-3-topped-up")

    page.get_by_role("link", name="Accounts").first.click()
    page.fill("#account-search", "flora@example")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#admin-accounts tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("flora@example.com (invited)")
    expect(rows.first).to_contain_text("7,500")
    _fits(page)
    screenshot(page, f"admin-{size}-4-found-by-owner-email")

    rows.first.get_by_role("link", name="Flora's Flowers").click()
    page.get_by_role("link", name="Suspend account…").click()
    expect(page.get_by_role("heading", name="Suspend Flora's Flowers?")).to_be_visible()
    screenshot(page, f"admin-{size}-5-confirm-suspend")
    page.get_by_role("button", name="Yes, suspend Flora's Flowers").click()
    expect(page.locator("h1 .badge")).to_have_text("suspended")
    expect(page.get_by_role("button", name="Reactivate account")).to_be_visible()
    screenshot(page, f"admin-{size}-6-suspended")

    page.goto("/admin?only=suspended")
    expect(page.locator("#admin-accounts tbody tr")).to_have_count(1)
    _fits(page)


def _board_fits(page: Page, size: str) -> None:
    """On a phone the board is one list, its status groups one under the other."""
    _fits(page)
    if size != "mobile":
        return
    boxes = [c.bounding_box() for c in page.locator(".column").all()]
    assert len(boxes) >= 2 and all(b is not None for b in boxes)
    lefts = {round(b["x"]) for b in boxes if b}
    assert len(lefts) == 1, f"status groups sit side by side: {lefts}"
    first_review = page.locator(".column-needs_review").bounding_box()
    assert first_review and first_review["y"] == min(b["y"] for b in boxes if b), (
        "what waits for review comes first")


def _invite(page: Page, email: str, role: str) -> str:
    page.goto("/settings/members")
    page.fill("#f-email", email)
    page.select_option("#f-invite-role", role)
    page.get_by_role("button", name="Create invite link").click()
    return str(page.locator("#invite-link").input_value())


def _accept(page: Page, link: str, name: str, account: str) -> None:
    page.goto(link)
    page.fill("#f-display_name", name)
    page.fill("#f-password", NEW_PASSWORD)
    page.get_by_role("button", name=f"Join {account}").click()
    expect(page.get_by_role("heading", name="What should your team do next?")).to_be_visible()


def _nav_links(page: Page, size: str) -> list[str]:
    """The links the person can see: the bar on a desktop, the opened menu on a phone."""
    if size == "mobile":
        expect(page.locator(".mainnav")).to_be_hidden()
        page.locator(".navmenu > summary").click()
        nav = page.get_by_role("navigation", name="Main (menu)")
    else:
        expect(page.locator(".navmenu")).to_be_hidden()
        nav = page.get_by_role("navigation", name="Main", exact=True)
    expect(nav).to_be_visible()
    return [t.strip() for t in nav.locator("a").all_inner_texts()]


def test_invited_operator_and_viewer_see_what_they_may_do(
        open_page: Opener, db: Session, tenant: Tenant, size: str) -> None:
    task = make_card_in_review(db, tenant, "A first draft of the newsletter")
    name = tenant.account.name
    owner = open_page()
    _log_in(owner, tenant.owner.email, PASSWORD)
    operator_link = _invite(owner, f"olive-{size}@example.com", "operator")
    viewer_link = _invite(owner, f"vic-{size}@example.com", "viewer")
    screenshot(owner, f"invitees-{size}-1-owner-invites")

    operator = open_page()
    _accept(operator, operator_link, "Olive", name)
    who = operator.locator(".topbar .who")
    expect(who.locator(".account-name")).to_have_text(name)
    expect(who.locator(".role")).to_have_text("operator")
    expect(operator.get_by_role("button", name="Plan it")).to_be_enabled()
    links = _nav_links(operator, size)
    assert [re.sub(r"\s*\d+$", "", t) for t in links] == ["Goals", "Needs you", "Routines",
                                                          "Templates", "Agents", "Usage"]
    assert links[1].endswith("1"), links  # the card waiting for review
    screenshot(operator, f"invitees-{size}-2-operator-home")
    operator.goto(f"/goals/{task.goal_id}")
    expect(operator.locator(".column").first).to_be_visible()
    _board_fits(operator, size)
    screenshot(operator, f"invitees-{size}-3-operator-board")
    operator.goto(f"/goals/{task.goal_id}/tasks/{task.id}")
    expect(operator.locator('button[data-action="approve"]')).to_be_enabled()
    _fits(operator)
    screenshot(operator, f"invitees-{size}-3b-operator-card")
    operator.goto("/settings")
    expect(operator.get_by_text("can't do this")).to_be_visible()
    screenshot(operator, f"invitees-{size}-4-operator-settings-refused")

    viewer = open_page()
    _accept(viewer, viewer_link, "Vic", name)
    expect(viewer.locator(".topbar .who .role")).to_have_text("viewer")
    expect(viewer.get_by_role("button", name="Plan it")).to_have_count(0)
    assert _nav_links(viewer, size) == ["Goals", "Needs you", "Routines", "Templates",
                                        "Agents", "Usage"]
    expect(viewer.locator(".count:visible")).to_have_count(0)  # nothing nags a viewer
    screenshot(viewer, f"invitees-{size}-5-viewer-home")
    viewer.goto(f"/goals/{task.goal_id}/tasks/{task.id}")
    expect(viewer.get_by_text("A first draft of the newsletter")).to_be_visible()
    expect(viewer.locator('button[data-action="approve"]')).to_have_count(0)
    _fits(viewer)
    screenshot(viewer, f"invitees-{size}-6-viewer-card")
    viewer.goto("/agents")
    expect(viewer.locator("#roster")).to_be_visible()
    screenshot(viewer, f"invitees-{size}-7-viewer-agents")


def test_the_phone_menu_opens_without_javascript(browser: Browser, live_server: str,
                                                  tenant: Tenant) -> None:
    context = browser.new_context(viewport=SIZES["mobile"], base_url=live_server,  # type: ignore[arg-type]
                                  java_script_enabled=False)
    try:
        page = context.new_page()
        _log_in(page, tenant.owner.email, PASSWORD)
        menu = page.get_by_role("navigation", name="Main (menu)")
        expect(menu).to_be_hidden()
        page.locator(".navmenu > summary").click()
        expect(menu).to_be_visible()
        expect(menu.get_by_role("link", name="Settings")).to_be_visible()
        expect(page.locator(".navmenu-who")).to_contain_text(tenant.account.name)
        screenshot(page, "menu-mobile-no-javascript")
        menu.get_by_role("link", name="Usage").click()
        page.wait_for_url(lambda url: urlsplit(url).path == "/usage")
    finally:
        context.close()

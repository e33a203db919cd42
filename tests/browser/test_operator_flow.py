"""The operator's day, driven through a real browser (Playwright + Debian's chromium).

Sign up, submit a goal, watch its cards move live (no reload), send one back with
feedback, see it redone, approve, and watch the goal complete. A viewer sees no
action buttons, and a forged action from a viewer is refused.

CI runs this module in the SQLite pass only (the conftest skips it on Postgres).
Screenshots of the board and the card land in test-artifacts/.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from tests.browser.conftest import shot
from tests.factories import PASSWORD, Tenant, make_card_in_review
from web4os.agents.providers import OfflineModel, set_provider_override
from web4os.goals.models import Task, TaskStatus

FEEDBACK = "Make it warmer and mention our sourdough"
UNLABELLED_CONTROLS = """() => [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button')].filter(el =>
    !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
    && !(el.tagName === 'BUTTON' && el.textContent.trim())).map(el => el.outerHTML.slice(0, 80))"""


@pytest.fixture(autouse=True)
def _slow_model() -> None:
    """A little latency so the browser can see cards queue, run and finish."""
    set_provider_override(OfflineModel(latency_seconds=0.3))


def _sign_up(page: Page, email: str) -> None:
    page.goto("/signup")
    page.fill("#f-account_name", "Rosie's Bakery")
    page.fill("#f-email", email)
    page.fill("#f-password", PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="What should your team do next?")).to_be_visible()


def _submit_goal(page: Page, title: str, *, approve_each: bool) -> None:
    page.fill("#f-title", title)
    if approve_each:
        page.get_by_text("Add details (optional)").click()
        page.check("input[name=require_approval]")
    page.get_by_role("button", name="Plan it").click()
    page.wait_for_url(re.compile(r"/goals/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(title)


def _mark_page(page: Page) -> None:
    """Tag the page's header: a reload or navigation would lose the tag, a live swap won't."""
    page.locator(".goal-header h1").evaluate("h => h.dataset.mark = 'still-here'")


def _assert_not_reloaded(page: Page) -> None:
    assert page.locator(".goal-header h1").get_attribute("data-mark") == "still-here"


def test_cards_move_to_done_live_without_a_reload(page: Page) -> None:
    _sign_up(page, "live@example.com")
    _submit_goal(page, "Launch a monthly newsletter for our bakery", approve_each=False)
    _mark_page(page)
    # the plan appears, cards run (the strip shows who works now) and all reach done
    expect(page.locator(".card").first).to_be_visible()
    expect(page.locator("#live .now")).to_be_visible()
    expect(page.locator("#goal-status")).to_have_attribute("data-status", "completed", timeout=60_000)
    total = page.locator(".card").count()
    assert total >= 2
    expect(page.locator("#col-done .card")).to_have_count(total)
    expect(page.locator("#live")).to_have_attribute("data-live", "off")  # polling stopped
    _assert_not_reloaded(page)
    expect(page.locator(".summary")).to_be_visible()
    expect(page.locator("#credits-chip")).not_to_have_text("1,000 credits")  # follows spending
    shot(page, "board-completed")


def test_review_reject_redo_approve_until_the_goal_completes(page: Page) -> None:
    _sign_up(page, "review@example.com")
    _submit_goal(page, "Plan a spring promotion for our flower shop", approve_each=True)
    _mark_page(page)

    # cards run live and stop in "needs review", waiting for the operator
    first = page.locator("#col-needs_review .card").first
    expect(first).to_be_visible(timeout=60_000)
    _assert_not_reloaded(page)
    expect(page.locator("#needs-you-count")).to_be_visible()  # the nav count follows live
    shot(page, "board-needs-review")

    # open the card and send it back with feedback
    title = first.locator(".card-title").inner_text()
    first.locator("a").click()
    expect(page.locator("#card-status")).to_have_text("needs review")
    expect(page.locator(".deliverable")).to_be_visible()
    shot(page, "card-needs-review")
    page.fill("#f-feedback", FEEDBACK)
    page.get_by_role("button", name="Send back").click()

    # the card is redone (live, on the card page) and the feedback shows in the deliverable
    expect(page.locator("#card-status")).to_have_text("needs review", timeout=30_000)
    expect(page.locator(".deliverable")).to_contain_text("Changes after feedback")
    expect(page.locator(".deliverable")).to_contain_text(FEEDBACK)
    timeline = page.locator("#card-timeline")
    expect(timeline).to_contain_text(f"Sent back: {FEEDBACK}")
    expect(timeline).to_contain_text("review@example.com")  # who clicked what
    steps = page.locator("#card-technical")  # model calls with tokens, one click away
    expect(steps.locator(".pill-model").first).to_be_hidden()
    steps.locator("summary").click()
    expect(steps.locator(".pill-model").first).to_be_visible()
    expect(steps).to_contain_text("tokens")
    shot(page, "card-redone")

    # approve: it is done at once, and the timeline says who approved it
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#card-status")).to_have_text("done")
    expect(timeline).to_contain_text("Approved.")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)

    # approve every other card as it comes up, from the board
    back_to_board = page.get_by_role("navigation", name="Breadcrumb").get_by_role("link").nth(1)
    back_to_board.click()
    deadline = time.monotonic() + 120
    while page.locator("#goal-status").get_attribute("data-status") != "completed":
        assert time.monotonic() < deadline, "the goal did not complete"
        waiting = page.locator("#col-needs_review .card a")
        if waiting.count():
            waiting.first.click()
            page.get_by_role("button", name="Approve").click()
            expect(page.locator("#card-status")).to_have_text("done")
            back_to_board.click()
            expect(page.locator("#goal-status")).to_be_visible()
        page.wait_for_timeout(300)
    expect(page.locator("#col-done .card")).to_have_count(page.locator(".card").count())
    expect(page.locator("#col-done")).to_contain_text(title)
    expect(page.locator("#needs-you-count")).to_be_hidden()
    shot(page, "board-after-review")


def _card_in_review(db: Session, tenant: Tenant) -> Task:
    return make_card_in_review(db, tenant, "## Suppliers\n\n- Bean & Co\n- Roastworks",
                               title="Find three new coffee suppliers")


def _log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.fill("#f-email", email)
    page.fill("#f-password", PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    # signed in: the bar shows the role (on a phone the links sit in the closed menu)
    expect(page.locator(".topbar .who .role")).to_be_visible()


def test_a_viewer_sees_no_actions_and_a_forged_post_is_refused(page: Page, db: Session,
                                                               tenant: Tenant) -> None:
    task = _card_in_review(db, tenant)
    _log_in(page, tenant.viewer.email)
    page.goto(f"/goals/{task.goal_id}/tasks/{task.id}")
    expect(page.locator("#card-status")).to_have_text("needs review")
    expect(page.locator("[data-action]")).to_have_count(0)
    expect(page.locator("form[action^='/tasks/']")).to_have_count(0)
    expect(page.locator(".readonly-note")).to_be_visible()
    page.goto("/")
    expect(page.get_by_role("button", name="Plan it")).to_have_count(0)

    # a hand-made post with the viewer's own valid cookies and CSRF token
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    resp = page.request.post(f"/tasks/{task.id}/approve", form={"csrf_token": token},
                             max_redirects=0)
    assert resp.status == 403
    assert "ask an account owner" in resp.text().lower()
    db.rollback()
    db.refresh(task)
    assert task.status == TaskStatus.NEEDS_REVIEW


def test_a_stale_action_says_the_card_changed(page: Page, db: Session, tenant: Tenant) -> None:
    """Two tabs: one approves, the other still shows the old card and tries to send it back."""
    task = _card_in_review(db, tenant)
    _log_in(page, tenant.operator.email)
    page.goto(f"/goals/{task.goal_id}/tasks/{task.id}")
    expect(page.locator("#card-status")).to_have_text("needs review")
    other = page.context.new_page()
    other.goto(f"/goals/{task.goal_id}/tasks/{task.id}")
    other.get_by_role("button", name="Approve").click()
    expect(other.locator("#card-status")).to_have_text("done")
    other.close()

    page.fill("#f-feedback", "Please add prices")
    page.get_by_role("button", name="Send back").click()
    expect(page.locator("#card-changed")).to_contain_text("This card changed")
    expect(page.locator("#card-status")).to_have_text("done")
    assert page.url.endswith(f"/goals/{task.goal_id}/tasks/{task.id}")


def test_phone_width_and_keyboard(browser: object, live_server: str, db: Session,
                                  tenant: Tenant) -> None:
    """375 px wide: no sideways page scroll; the skip link is the first Tab stop."""
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    task = _card_in_review(db, tenant)
    context = browser.new_context(viewport={"width": 375, "height": 812}, base_url=live_server,
                                  color_scheme="dark", is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        _log_in(page, tenant.operator.email)
        for path in ("/", f"/goals/{task.goal_id}", f"/goals/{task.goal_id}/tasks/{task.id}", "/inbox"):
            page.goto(path)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
            unlabelled = page.evaluate(UNLABELLED_CONTROLS)
            assert not unlabelled, f"{path}: controls without a label: {unlabelled}"
        page.goto(f"/goals/{task.goal_id}/tasks/{task.id}")
        shot(page, "card-phone-dark")
        page.goto(f"/goals/{task.goal_id}")
        shot(page, "board-phone-dark")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        page.keyboard.press("Enter")
        assert page.url.endswith("#main")
    finally:
        context.close()


def test_an_error_during_an_htmx_action_shows_a_toast(page: Page, db: Session,
                                                      tenant: Tenant) -> None:
    """A boosted action that fails (here: an expired CSRF token) explains itself in a toast
    and leaves the page as it was."""
    task = _card_in_review(db, tenant)
    _log_in(page, tenant.operator.email)
    page.goto(f"/goals/{task.goal_id}/tasks/{task.id}")
    page.locator(".app").evaluate(
        "el => el.setAttribute('hx-headers', JSON.stringify({'X-CSRF-Token': 'expired'}))")
    page.get_by_role("button", name="Approve").click()
    toast = page.locator("#toast")
    expect(toast).to_contain_text("This form expired")
    expect(toast).to_contain_text("Reload the page")
    expect(page.locator("#card-status")).to_have_text("needs review")
    toast.get_by_role("button", name="Dismiss").click()
    expect(toast).to_be_empty()

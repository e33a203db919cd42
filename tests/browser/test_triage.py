"""Triage in a real browser: the owner's journey by keyboard (sign up → goal → Needs you
→ report) at desktop and phone sizes, inline approve and send back with the next item
opening, "approve selected", and a finished goal that reads as finished.

Screenshots of each step land in artifacts/screenshots (``tests/support/screens.py``).
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from tests.factories import PASSWORD, Tenant, make_card_in_review
from tests.support.screens import screenshot
from web4os.agents.providers import OfflineModel, set_provider_override
from web4os.goals.models import Task, TaskStatus

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "mobile": {"width": 390, "height": 844}}
FEEDBACK = "Mention our sourdough starter"


@pytest.fixture(autouse=True)
def _slow_model() -> None:
    """A little latency so cards are seen moving."""
    set_provider_override(OfflineModel(latency_seconds=0.2))


def _log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.fill("#f-email", email)
    page.fill("#f-password", PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    expect(page.get_by_role("link", name="Needs you")).to_be_visible()


def _current_id(page: Page) -> str | None:
    found = page.evaluate("(document.querySelector('[data-triage-item].is-current') || {}).id")
    return str(found) if found else None


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_the_owners_journey_by_keyboard(browser: Browser, live_server: str, size: str) -> None:
    context = browser.new_context(viewport=VIEWPORTS[size], base_url=live_server)  # type: ignore[arg-type]
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        _journey(page, size)
    finally:
        context.close()


def _journey(page: Page, size: str) -> None:
    # sign up and ask for a goal whose every card waits for approval
    page.goto("/signup")
    page.fill("#f-account_name", "Rosie's Bakery")
    page.fill("#f-email", f"journey-{size}@example.com")
    page.fill("#f-password", PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="What should your team do next?")).to_be_visible()
    screenshot(page, f"owner-{size}-1-signed-up")
    page.fill("#f-title", "Launch a monthly newsletter for our bakery")
    page.get_by_text("Add details (optional)").click()
    page.check("input[name=require_approval]")
    page.get_by_role("button", name="Plan it").click()
    page.wait_for_url(re.compile(r"/goals/\d+$"))
    goal_url = page.url

    # the goal says it waits for the owner once its work stops at review, not "running · live"
    expect(page.locator("#goal-status")).to_contain_text("Waiting for you", timeout=60_000)
    expect(page.locator("#goal-live")).to_have_count(0)
    screenshot(page, f"owner-{size}-2-board-waiting")

    # triage by keyboard in Needs you: the list of shortcuts, then send one back, approve the rest
    page.goto("/inbox")
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    screenshot(page, f"owner-{size}-3-shortcuts")
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_hidden()
    page.keyboard.press("j")
    first = _current_id(page)
    assert first and first.startswith("inbox-card-")
    page.keyboard.press("s")
    expect(page.locator(f"#{first} textarea")).to_be_focused()
    page.keyboard.type(FEEDBACK)
    page.keyboard.press("Control+Enter")
    expect(page.locator(f"#{first}")).to_have_count(0)  # sent back: it left the list
    _approve_until_done(page, goal_url, size)

    # the finished goal leads with its result; the report is one click on
    page.goto(goal_url)
    expect(page.locator("#goal-status")).to_have_text("Finished")
    expect(page.locator("#finished-cards")).not_to_have_attribute("open", "")
    expect(page.locator(".board")).to_be_hidden()
    screenshot(page, f"owner-{size}-5-finished")
    page.locator("#report-link").click()
    page.wait_for_url(re.compile(r"/goals/\d+/report$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    screenshot(page, f"owner-{size}-6-report")


def _approve_until_done(page: Page, goal_url: str, size: str) -> None:
    """Approve each result with ``a`` as it comes, until the goal completes."""
    deadline = time.monotonic() + 150
    shot = False
    while True:
        assert time.monotonic() < deadline, "the goal did not complete"
        page.goto("/inbox")
        if page.locator("[data-triage-item]").count():
            if _current_id(page) is None:
                page.keyboard.press("j")
            if not shot:
                screenshot(page, f"owner-{size}-4-inbox-current")
                shot = True
            before = _current_id(page)
            page.keyboard.press("a")
            expect(page.locator(f"#{before}")).to_have_count(0)
            continue
        status = page.request.get(goal_url).text()
        if 'data-status="completed"' in status:
            return
        page.wait_for_timeout(400)


def _three_in_review(db: Session, tenant: Tenant) -> list[Task]:
    return [make_card_in_review(db, tenant, f"## Draft {n}\n\nThree findings.",
                                title=f"Goal {n}") for n in (1, 2, 3)]


def test_inline_approve_and_send_back_open_the_next_item(page: Page, db: Session,
                                                         tenant: Tenant) -> None:
    cards = _three_in_review(db, tenant)
    _log_in(page, tenant.operator.email)
    page.goto("/inbox")
    rows = page.locator("li[data-triage-item]")
    expect(rows).to_have_count(3)
    first_id = rows.nth(0).get_attribute("id")
    second_id = rows.nth(1).get_attribute("id")
    rows.nth(0).get_by_role("button", name="Approve").click()
    expect(page.locator(f"#{first_id}")).to_have_count(0)
    expect(page.locator(f"#{second_id}")).to_have_class(re.compile(r"\bis-current\b"))
    expect(page.locator(f"#{second_id} .inbox-preview")).to_have_attribute("open", "")

    second = page.locator(f"#{second_id}")
    second.locator("summary", has_text="Send back").click()
    second.locator("textarea[name=feedback]").fill(FEEDBACK)
    second.get_by_role("button", name="Send back with feedback").click()
    expect(page.locator(f"#{second_id}")).to_have_count(0)
    expect(page.locator("li[data-triage-item].is-current")).to_have_count(1)
    screenshot(page, "inline-inbox-next-open")
    db.rollback()
    by_row = {f"inbox-card-{t.id}": t.id for t in cards}
    assert db.get(Task, by_row[str(first_id)]).status == TaskStatus.DONE  # type: ignore[union-attr]
    assert db.get(Task, by_row[str(second_id)]).feedback == FEEDBACK  # type: ignore[union-attr]


def test_inline_on_the_board_and_approve_selected_by_keyboard(page: Page, db: Session,
                                                              tenant: Tenant) -> None:
    from tests.factories import make_planned_goal, plan_of
    from web4os.goals.statemachine import transition

    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []), ("b", "writer", []),
                                                 ("c", "marketer", [])), title="Board triage")
    cards = db.query(Task).filter_by(goal_id=goal.id).order_by(Task.position).all()
    for card in cards:
        for status in (TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.NEEDS_REVIEW):
            transition(db, card, status, actor="test")
        card.output = f"Draft of {card.title}"
    db.commit()
    _log_in(page, tenant.owner.email)
    page.goto(f"/goals/{goal.id}")
    expect(page.locator("#goal-status")).to_have_text("Waiting for you (3)")

    # approve the first inline: the next card in review opens
    page.locator(f"#card-{cards[0].id}").get_by_role("button", name="Approve").click()
    expect(page.locator(f"#card-{cards[0].id}")).to_have_attribute("data-status", "done")
    expect(page.locator(f"#card-{cards[1].id}")).to_have_class(re.compile(r"\bis-current\b"))

    # select the other two with x (moving with j), approve them together
    page.keyboard.press("x")
    page.keyboard.press("j")
    assert _current_id(page) == f"card-{cards[2].id}"
    page.keyboard.press("x")
    screenshot(page, "board-two-selected")
    page.get_by_role("button", name="Approve selected").click()
    expect(page.locator("#bulk-result")).to_have_text(re.compile("Approved 2 cards"))
    db.rollback()
    assert {db.get(Task, c.id).status for c in cards} == {TaskStatus.DONE}  # type: ignore[union-attr]


def _three_card_goal(db: Session, tenant: Tenant, title: str) -> list[Task]:
    from tests.factories import make_planned_goal, plan_of

    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", []), ("b", "writer", []),
                                                 ("c", "marketer", [])), title=title)
    return db.query(Task).filter_by(goal_id=goal.id).order_by(Task.position).all()


def test_a_finished_goal_opens_on_its_result(page: Page, db: Session, tenant: Tenant) -> None:
    from web4os.goals.models import Goal, GoalStatus
    from web4os.goals.statemachine import transition, transition_goal

    cards = _three_card_goal(db, tenant, "Finished promo")
    for card in cards:
        for status in (TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.NEEDS_REVIEW,
                       TaskStatus.DONE):
            transition(db, card, status, actor="test")
    goal = db.get(Goal, cards[0].goal_id)
    assert goal is not None
    goal.summary = "Three posters and a flyer, ready to print."
    transition_goal(db, goal, GoalStatus.COMPLETING, actor="test")
    transition_goal(db, goal, GoalStatus.COMPLETED, actor="test")
    db.commit()
    _log_in(page, tenant.owner.email)
    page.goto(f"/goals/{goal.id}")
    expect(page.locator(".summary")).to_contain_text("Three posters and a flyer")
    expect(page.locator("#report-link")).to_be_visible()
    expect(page.locator(".board")).to_be_hidden()
    page.get_by_text("All 3 cards and the plan graph").click()
    expect(page.locator("#col-done .card")).to_have_count(3)
    expect(page.locator("#col-done .card").first).to_be_visible()
    screenshot(page, "finished-goal-cards-open")


def test_an_owner_asks_for_credits_from_a_blocked_card(page: Page, db: Session,
                                                       tenant: Tenant) -> None:
    from web4os.goals.scheduling import OUT_OF_CREDITS
    from web4os.goals.statemachine import transition

    cards = _three_card_goal(db, tenant, "Waiting promo")
    transition(db, cards[0], TaskStatus.BLOCKED, actor="test", reason=OUT_OF_CREDITS)
    db.commit()
    _log_in(page, tenant.owner.email)
    page.goto(f"/goals/{cards[0].goal_id}")
    expect(page.locator("#goal-status")).to_have_text("Waiting for credits (1)")
    expect(page.locator("#col-on_hold .card")).to_have_count(1)
    page.locator(f"#card-link-{cards[0].id}").click()
    expect(page.locator("#card-status")).to_have_text("on hold")
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)
    page.get_by_role("button", name="Ask the admin for credits").click()
    expect(page.locator("#credits-asked")).to_contain_text("You asked the platform admin")
    screenshot(page, "credits-asked")

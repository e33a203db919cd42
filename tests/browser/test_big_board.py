"""A board with 300 cards stays usable in a real browser: it renders quickly enough to
use, long columns are collapsed with "show all", columns scroll, and the board keeps
updating live without losing the operator's scroll position.

CI runs this module in the SQLite pass only (the conftest skips it on Postgres).
"""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import update
from sqlalchemy.orm import Session

from tests.browser.conftest import shot
from tests.browser.test_operator_flow import _log_in
from tests.factories import Tenant
from tests.support.boards import big_goal
from web4os.goals.board import COLUMN_LIMIT
from web4os.goals.models import Task, TaskStatus


def _wait_for_a_poll(page: Page) -> None:
    """Tag the live region and wait until a poll has replaced it."""
    page.locator("#live").evaluate("el => el.dataset.old = '1'")
    expect(page.locator("#live[data-old]")).to_have_count(0, timeout=15_000)


def test_a_300_card_board_renders_scrolls_and_updates(page: Page, db: Session,
                                                      tenant: Tenant) -> None:
    goal = big_goal(db, tenant)
    _log_in(page, tenant.operator.email)
    page.goto(f"/goals/{goal.id}")

    done = page.locator("#col-done")
    expect(done.locator(".col-count")).to_have_text("120")
    expect(page.locator("#col-planned .col-count")).to_have_text("80")
    expect(done.locator(".card")).to_have_count(COLUMN_LIMIT)  # long columns are collapsed
    expect(page.locator("#col-running .card")).to_have_count(4)
    expect(page.locator(".graph-note")).to_be_visible()  # no unreadable 300-node graph
    expect(page.locator("#live")).to_have_attribute("data-live", "on")

    # a long column scrolls inside itself, and a live update keeps the scroll position
    cards = page.locator("#col-done-cards")
    assert cards.evaluate("el => el.scrollHeight > el.clientHeight")
    cards.evaluate("el => el.scrollTop = 600")
    page.locator("#activity-details summary").click()  # an open <details> stays open too
    _wait_for_a_poll(page)
    assert page.locator("#col-done-cards").evaluate("el => el.scrollTop") >= 550
    expect(page.locator("#activity-details")).to_have_attribute("open", "")

    # something changes in the database: the board shows it without a reload
    page.locator(".goal-header h1").evaluate("h => h.dataset.mark = 'still-here'")
    db.rollback()  # a fresh transaction: SQLite can't upgrade a stale read snapshot to a write
    db.execute(update(Task).where(Task.goal_id == goal.id, Task.key == "t125")
               .values(status=TaskStatus.DONE))
    db.commit()
    expect(done.locator(".col-count")).to_have_text("121")
    expect(page.locator("#col-planned .col-count")).to_have_text("79")
    assert page.locator(".goal-header h1").get_attribute("data-mark") == "still-here"
    shot(page, "board-300-cards", full_page=False)

    # "show all" draws the whole column; the page still scrolls to its last card
    done.get_by_role("link", name="Show all 121").click()
    expect(page.locator("#col-done .card")).to_have_count(121)
    assert "show=done" in page.url
    last = page.locator("#col-done .card").last
    last.scroll_into_view_if_needed()
    expect(last).to_be_in_viewport()
    _wait_for_a_poll(page)  # polling keeps the column expanded
    expect(page.locator("#col-done .card")).to_have_count(121)
    done.get_by_role("link", name="Show fewer").click()
    expect(page.locator("#col-done .card")).to_have_count(COLUMN_LIMIT)

"""A goal the CEO agent cannot plan, in a real browser: the page turns to "Waiting for you"
by itself, and the operator starts it from a simple plan and sees its cards.

CI runs this module in the SQLite pass only (the conftest skips it on Postgres).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from tests.browser.conftest import shot
from tests.factories import PASSWORD, Tenant
from tests.support.broken_models import CutOffAnswers
from web4os.agents.providers import set_provider_override

TITLE = "Plan a spring promotion for our flower shop"


@pytest.fixture(autouse=True)
def _plans_come_back_cut_off() -> None:
    set_provider_override(CutOffAnswers())


def test_start_a_goal_that_could_not_be_planned_from_a_simple_plan(
        page: Page, db: Session, tenant: Tenant) -> None:
    page.goto("/login")
    page.fill("#f-email", tenant.operator.email)
    page.fill("#f-password", PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.fill("#f-title", TITLE)
    page.get_by_role("button", name="Plan it").click()
    page.wait_for_url(re.compile(r"/goals/\d+$"))

    # planning fails twice (cut-off JSON); the live page shows the ways on, no reload
    ways = page.locator("#ways-on")
    expect(ways).to_be_visible(timeout=30_000)
    expect(page.locator("#ways-reason")).to_contain_text("could not make a plan")
    expect(page.locator("#ways-cost")).to_contain_text("credits")
    expect(page.locator("#needs-you-count")).to_have_text("1")
    shot(page, "goal-waiting-for-you")

    page.get_by_text("Start from a simple plan").click()
    simple = page.locator("#way-simple")
    simple.locator("label", has_text="Researcher").locator("input").check()
    simple.locator("label", has_text="Writer").locator("input").check()
    page.get_by_role("button", name="Start from this simple plan").click()

    cards = page.locator(".card")
    expect(cards).to_have_count(2)
    expect(page.locator("#ways-on")).to_have_count(0)
    expect(page.locator(".board")).to_contain_text(f"Researcher: {TITLE}")
    expect(page.locator(".board")).to_contain_text(f"Writer: {TITLE}")
    expect(page.locator("#goal-status")).to_have_attribute("data-status", "completed", timeout=60_000)
    expect(page.locator("#col-done .card")).to_have_count(2)
    shot(page, "goal-from-a-simple-plan")

"""A routine made in a real browser: the next five runs follow the schedule as it is
typed (htmx), it saves, runs now, and its goal's page says which routine started it.

CI runs this module in the SQLite pass only (the conftest skips it on Postgres).
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import shot
from tests.factories import PASSWORD, Tenant


def test_make_a_routine_watch_the_preview_and_run_it(page: Page, tenant: Tenant) -> None:
    page.goto("/login")
    page.fill("#f-email", tenant.operator.email)
    page.fill("#f-password", PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.get_by_role("link", name="Routines").click()
    page.get_by_role("link", name="New routine").click()
    page.fill("#f-title", "Monthly newsletter draft")
    preview = page.locator("#routine-preview li")
    expect(preview).to_have_count(5)
    expect(preview.first).to_contain_text("09:00")
    page.select_option("#f-preset", "cron")
    page.fill("#f-cron", "30 7 1 * *")
    page.fill("#f-time_zone", "America/New_York")
    expect(preview.first).to_contain_text(re.compile(r"^\w{3} 1 \w+ \d{4}, 07:30 E[SD]T$"))
    expect(preview).to_have_count(5)
    page.fill("#f-cron", "30 7 1 *")
    expect(page.locator("#routine-preview .error")).to_contain_text("five fields")
    page.fill("#f-cron", "30 7 1 * *")
    expect(preview).to_have_count(5)
    shot(page, "routine-form-preview")
    page.get_by_role("button", name="Create routine").click()
    page.wait_for_url(re.compile(r"/routines/\d+$"))
    expect(page.locator("h1")).to_contain_text("Monthly newsletter draft")
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(re.compile(r"/goals/\d+$"))
    expect(page.locator(".routine-origin")).to_contain_text(
        "Started by routine Monthly newsletter draft")
    shot(page, "goal-started-by-routine")

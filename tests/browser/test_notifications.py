"""The bell in a real browser: it counts a card waiting for review, opens the
Notifications page, and goes quiet once the operator marks it read."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from tests.browser.conftest import shot
from tests.factories import PASSWORD, Tenant, make_card_in_review


def test_the_bell_counts_and_the_list_marks_read(page: Page, db: Session,
                                                 tenant: Tenant) -> None:
    task = make_card_in_review(db, tenant, "A draft for the newsletter")
    page.goto("/login")
    page.fill("#f-email", tenant.operator.email)
    page.fill("#f-password", PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/login"))
    bell = page.locator("#bell")
    expect(bell.locator("#bell-count")).to_have_text("1")
    shot(page, "notifications-bell", full_page=False)
    bell.click()
    expect(page).to_have_url(re.compile(r"/notifications$"))
    row = page.locator("li.unread")
    expect(row).to_contain_text(f"“{task.title}” needs your review")
    shot(page, "notifications-list")
    row.get_by_role("button", name="Mark read").click()
    expect(page.locator("li.unread")).to_have_count(0)
    expect(page.locator("#bell-count")).to_be_hidden()
    page.locator(f"a[href='/goals/{task.goal_id}/tasks/{task.id}']").first.click()
    expect(page).to_have_url(re.compile(rf"/goals/{task.goal_id}/tasks/{task.id}$"))


def test_the_settings_page_saves_choices(page: Page, tenant: Tenant) -> None:
    page.goto("/login")
    page.fill("#f-email", tenant.owner.email)
    page.fill("#f-password", PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/login"))
    page.goto("/notifications/settings")
    expect(page.locator(".banner-info")).to_contain_text("Email is off")
    page.get_by_label("A goal completed").uncheck()
    page.select_option("#f-digest", "60")
    page.locator("form[action='/notifications/settings'] button[type=submit]").click()
    expect(page.locator(".banner-ok")).to_contain_text("Saved")
    expect(page.get_by_label("A goal completed")).not_to_be_checked()
    expect(page.locator("#f-digest")).to_have_value("60")
    shot(page, "notifications-settings")

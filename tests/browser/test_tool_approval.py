"""Ask first in a real browser: the card shows the waiting tool call; the operator edits
its arguments, approves it, and sees the result arrive on the card by itself.

CI runs this module in the SQLite pass only (the conftest skips it on Postgres).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from tests.browser.conftest import shot
from tests.factories import PASSWORD, Tenant
from tests.support.fake_openai import FakeOpenAI
from tests.support.mcp_server import RunningServer
from tests.tools.conftest import allow_loopback, endpoint, fake, mcp_server
from tests.tools.test_ask_first import _finish_answers, _stopped_card
from web4os.workers.embedded import EmbeddedRunner

__all__ = ["allow_loopback", "endpoint", "fake", "mcp_server"]


@pytest.mark.usefixtures("allow_loopback")
def test_the_operator_approves_a_tool_call_from_the_card(
        page: Page, endpoint: FakeOpenAI, runner: EmbeddedRunner, db: Session,
        tenant: Tenant, mcp_server: RunningServer) -> None:
    before = len(mcp_server.orders())
    goal, task = _stopped_card(endpoint, runner, db, tenant, mcp_server)
    _finish_answers(endpoint)
    page.goto("/login")
    page.fill("#f-email", tenant.operator.email)
    page.fill("#f-password", PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/login"))  # signed in before going on
    page.goto(f"/goals/{goal.id}/tasks/{task.id}")

    panel = page.locator(".tool-approval")
    expect(panel).to_contain_text("A tool call waits for your approval")
    expect(panel).to_contain_text("place_order")
    expect(panel).to_contain_text("We are out of butter.")
    shot(page, "tool-approval-waiting")
    panel.locator("textarea[name=arguments]").fill('{"item": "butter", "quantity": 7}')
    panel.get_by_role("button", name="Approve and run").click()

    timeline = page.locator("#card-timeline")
    expect(timeline).to_contain_text("ordered 7 x butter", timeout=30_000)
    expect(page.locator("#card-status")).to_have_text("done", timeout=30_000)
    expect(page.locator(".tool-approval")).to_have_count(0)
    shot(page, "tool-approval-done")
    assert mcp_server.orders()[before:] == ["order butter 7"]

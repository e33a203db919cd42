"""Files and results to take away, in a real browser: attach a PDF on the goal form, see
it on the goal page and download it, let the team finish, open the report and download
it as Markdown (CI runs this in the SQLite pass only)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.browser.conftest import shot
from tests.factories import PASSWORD, Tenant
from tests.files import samples
from web4os.agents.providers import OfflineModel, set_provider_override

PDF = samples.pdf("Croissant costs 2 EUR")


@pytest.fixture(autouse=True)
def _model() -> None:
    set_provider_override(OfflineModel())


def test_upload_a_file_and_download_the_report(page: Page, tenant: Tenant) -> None:
    page.goto("/login")
    page.fill("#f-email", tenant.operator.email)
    page.fill("#f-password", PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    expect(page.get_by_role("heading", name="What should your team do next?")).to_be_visible()
    page.fill("#f-title", "Reprice the croissants")
    upload: FilePayload = {"name": "prices.pdf", "mimeType": "application/pdf", "buffer": PDF}
    page.set_input_files("#f-files", files=[upload])
    page.get_by_role("button", name="Plan it").click()
    page.wait_for_url(re.compile(r"/goals/\d+$"))
    files = page.locator("#files")
    expect(files.get_by_role("link", name="prices.pdf")).to_be_visible()
    with page.expect_download() as got:
        files.get_by_role("link", name="prices.pdf").click()
    assert Path(got.value.path()).read_bytes() == PDF

    expect(page.locator("#goal-status")).to_have_attribute("data-status", "completed", timeout=30_000)
    page.reload()  # the report link sits in the goal's header, outside the live part
    page.get_by_role("link", name="Report").click()
    page.wait_for_url(re.compile(r"/goals/\d+/report$"))
    expect(page.get_by_role("heading", name="Summary")).to_be_visible()
    expect(page.get_by_text("files used: prices.pdf").first).to_be_visible()
    expect(page.get_by_text("Croissant costs 2 EUR").first).to_be_visible()
    shot(page, "goal-report")
    with page.expect_download() as got:
        page.get_by_role("link", name="Download Markdown").click()
    assert got.value.suggested_filename == "reprice-the-croissants.md"
    markdown = Path(got.value.path()).read_text()
    assert markdown.startswith("# Reprice the croissants") and "## Summary" in markdown
    assert "files used: prices.pdf" in markdown and "Croissant costs 2 EUR" in markdown
    page.emulate_media(media="print")  # the print stylesheet leaves the app's chrome out
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.get_by_role("heading", name="Summary")).to_be_visible()

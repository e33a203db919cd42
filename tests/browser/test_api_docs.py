"""/api/docs in a real browser: Swagger UI loads from this server under the app's strict
Content-Security-Policy and lists the API's operations. A refused script or style is a
console error, which the ``page`` fixture fails on."""

from __future__ import annotations

from tests.browser.conftest import shot


def test_the_api_docs_render_their_operations_with_no_policy_errors(page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    requested: list[str] = []
    page.on("request", lambda req: requested.append(req.url))
    resp = page.goto("/api/docs")
    assert resp is not None and resp.status == 200
    policy = resp.headers["content-security-policy"]
    assert "unsafe-inline" not in policy and "'sha256-" in policy

    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() >= 10
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/goals").first).to_be_visible()
    shot(page, "api-docs")

    base = page.url.split("/api/docs")[0]
    outside = [url for url in requested if not url.startswith(base) and not url.startswith("data:")]
    assert not outside, f"the docs page reached beyond this server: {outside}"

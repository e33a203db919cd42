"""Browser fixtures: the real app served by uvicorn on a free port, and Debian's chromium.

The server runs in a background thread of the test process, against the test
database the main conftest set up, with the embedded runner (the ``runner``
fixture) as its job queue, so agents really run while the browser watches.

CI runs these tests in the SQLite pass only (see ``.ci/run``): they exercise the
pages, not the database, and the Postgres pass already covers the same services.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IS_POSTGRES

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def _chromium() -> Path:
    if IS_POSTGRES:
        pytest.skip("browser tests run in the SQLite pass only (they test pages, not the database)")
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing at /usr/bin/chromium (apt-get install -y chromium)")
        pytest.skip("chromium is not installed at /usr/bin/chromium")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(_chromium: Path) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(_chromium), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def _server(_chromium: Path) -> Iterator[str]:
    import uvicorn

    from web4os.app import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(start_worker=False), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the web server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def live_server(_server: str, runner: object) -> str:
    """The app's base URL; jobs it enqueues run on this test's embedded runner."""
    return _server


@pytest.fixture
def page(browser: object, live_server: str, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh browser context (no cookies) with a desktop viewport."""
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=live_server)
    context.set_default_timeout(20_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield pg
    context.close()
    # a 4xx answer is a page the operator is meant to see (e.g. 409 "this card changed")
    errors = [e for e in errors if not re.search(r"status of 4\d\d", e)]
    assert not errors, f"the page logged errors: {errors}"


def shot(page: object, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot to test-artifacts/ (gitignored; CI can keep it)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)  # type: ignore[attr-defined]
    return path

"""Screenshots from the browser journeys, kept as CI artifacts."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]


def screenshots_dir() -> Path:
    """WEB4OS_ARTIFACTS_DIR when CI sets it, else artifacts/ in the checkout."""
    base = Path(os.environ.get("WEB4OS_ARTIFACTS_DIR") or ROOT / "artifacts")
    path = base / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot named for the journey step."""
    path = screenshots_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

"""Jinja2 set-up: where templates live, filters (safe markdown, times), globals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import nh3
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markupsafe import Markup

from web4os import __version__
from web4os.config import OFFLINE_LABEL, get_settings
from web4os.db import utcnow
from web4os.errors import AccountSuspended
from web4os.resources import resource_dir
from web4os.text import isolated
from web4os.web.csrf import csrf_token_for

TEMPLATES_DIR = resource_dir("templates")
STATIC_DIR = resource_dir("static")

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "del",
}


def markdown(text: str | None) -> Markup:
    """Render untrusted markdown (agent output) to sanitised HTML: raw HTML is escaped,
    then nh3 strips anything outside a small allow-list (no scripts, no handlers)."""
    html = _md.render(text or "")
    clean = nh3.clean(html, tags=_ALLOWED_TAGS, attributes={"a": {"href", "title"}},
                      url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")
    return Markup(clean)


def ago(when: datetime | None) -> str:
    """'3 min ago' style times for cards."""
    if when is None:
        return ""
    seconds = int((utcnow() - when).total_seconds())
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return when.strftime("%d %b %Y")


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None:
        return ""
    seconds = max(0, int(((end or utcnow()) - start).total_seconds()))
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"


def _finalize(value: Any) -> Any:
    """Every ``{{ … }}`` output: plain text holding direction controls is isolated (in an
    element, an attribute or a ``<title>`` alike). Markup is left alone: it is rendered
    markdown, whose blocks already end any direction control inside them."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return isolated(value)
    return value


def first_line(text: str | None, limit: int = 140) -> str:
    for line in (text or "").splitlines():
        line = line.strip().lstrip("#*-_> ").strip()
        if line and not line.startswith("Written by the web4os offline model"):
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def filesize(size: int | None) -> str:
    """'12 KB' / '3.4 MB' for file lists and limits."""
    n = int(size or 0)
    if n < 1000:
        return f"{n} bytes"
    if n < 1_000_000:
        return f"{n / 1000:.0f} KB"
    return f"{n / 1_000_000:.1f} MB".replace(".0 MB", " MB")


def plural(n: int | None, word: str, many: str = "") -> str:
    """The noun for ``n`` of it: "credit" for one, "credits" (or ``many``) otherwise.

    The one place a page picks singular or plural, so "1 credits" can't come back.
    """
    return word if n == 1 else (many or word + "s")


def counted(n: int | None, word: str, many: str = "") -> str:
    """"1 credit", "2 credits", "1,000 credits"."""
    return f"{int(n or 0):,} {plural(n, word, many)}"


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.finalize = _finalize
templates.env.filters["markdown"] = markdown
templates.env.filters["ago"] = ago
templates.env.filters["first_line"] = first_line
templates.env.filters["filesize"] = filesize
templates.env.filters["plural"] = plural
templates.env.filters["counted"] = counted
templates.env.globals["duration"] = duration
templates.env.globals["version"] = __version__
templates.env.globals["suspended_message"] = AccountSuspended.MESSAGE


PageValue = Callable[[Request], Any]
_page_values: dict[str, PageValue] = {}


def page_value(name: str, compute: PageValue) -> None:
    """Register a value every signed-in page shows (the nav's counts): ``render`` computes
    it unless the page passed it. Start-up registers these, so this package needs no
    domain's code."""
    _page_values[name] = compute


def render(request: Request, name: str, context: dict[str, Any] | None = None,
           status_code: int = 200) -> HTMLResponse:
    """Render a page with what every page needs (viewer, CSRF token, model banner)."""
    settings = get_settings()
    base: dict[str, Any] = {
        "viewer": getattr(request.state, "viewer", None),
        "csrf_token": csrf_token_for(request),
        "offline_model": settings.offline_model,
        "offline_label": OFFLINE_LABEL,
        "model_label": settings.openai_model if not settings.offline_model else OFFLINE_LABEL,
    }
    base.update(context or {})
    for key, compute in _page_values.items():
        if key not in base:
            base[key] = compute(request)
    return templates.TemplateResponse(request, name, base, status_code=status_code)

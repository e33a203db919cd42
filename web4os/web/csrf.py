"""The CSRF token a page's forms echo: the login session's, or the pre-login cookie's."""

from __future__ import annotations

from fastapi import Request

CSRF_COOKIE = "w4_csrf"


def csrf_token_for(request: Request) -> str:
    """The token forms must echo (the viewer is set by ``accounts.deps`` once logged in)."""
    viewer = getattr(request.state, "viewer", None)
    if viewer is not None:
        return str(viewer.web_session.csrf_token)
    token: str = getattr(request.state, "csrf_cookie", "") or request.cookies.get(CSRF_COOKIE, "")
    return token

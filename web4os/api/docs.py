"""The API's interactive docs (/api/docs): Swagger UI served from this server.

The app's Content-Security-Policy allows scripts and styles from this origin only, so
Swagger UI's files come from the ``swagger-ui-bundle-v2`` package (mounted under
:data:`ASSETS_URL`), not a CDN. FastAPI's page starts Swagger UI with one inline script;
this page's policy allows exactly that script by its hash and nothing else inline.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from web4os.web.headers import CSP

DOCS_URL = "/api/docs"
ASSETS_URL = "/static/swagger-ui"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

router = APIRouter()


def mount_assets(app: FastAPI) -> None:
    """Serve Swagger UI's files; call before mounting ``/static`` so this path wins."""
    app.mount(ASSETS_URL, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")


def _source_hash(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def policy_for(html: str) -> str:
    """The app's CSP with the page's inline scripts allowed by their SHA-256 hashes."""
    hashes = " ".join(_source_hash(body) for body in _INLINE_SCRIPT.findall(html))
    return CSP.replace("script-src 'self'", f"script-src 'self' {hashes}".rstrip())


@router.get(DOCS_URL, include_in_schema=False)
def swagger_ui(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url, title=f"{request.app.title} API",
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg")
    html = bytes(page.body).decode()
    return HTMLResponse(html, headers={"Content-Security-Policy": policy_for(html)})

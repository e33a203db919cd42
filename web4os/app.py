"""The FastAPI application: every router, the JSON API, static files, error handling,
and what start-up installs (the job queue, the nav's page values)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRouter
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from web4os import __version__
from web4os.accountdata import routes as accountdata_routes
from web4os.accounts import routes as accounts_routes
from web4os.accounts import settings_routes
from web4os.accounts.deps import READ_METHODS, SESSION_COOKIE, optional_viewer
from web4os.accounts.security import new_token
from web4os.admin import data_routes as admin_data_routes
from web4os.admin import health, token_routes
from web4os.admin import routes as admin_routes
from web4os.agents import routes as agents_routes
from web4os.api import account_data as api_account_data
from web4os.api import accounts as api_accounts
from web4os.api import admin as api_admin
from web4os.api import admin_tokens as api_admin_tokens
from web4os.api import agents as api_agents
from web4os.api import budgets as api_budgets
from web4os.api import credits as api_credits
from web4os.api import docs as api_docs
from web4os.api import files as api_files
from web4os.api import goal_templates as api_goal_templates
from web4os.api import notes as api_notes
from web4os.api import notifications as notification_api
from web4os.api import playbooks as playbooks_api
from web4os.api import reports as api_reports
from web4os.api import routes as api_routes
from web4os.api import routines as api_routines
from web4os.api import tools as api_tools
from web4os.api import webhooks as api_webhooks
from web4os.api.openapi import PREFIX as API_PREFIX
from web4os.config import get_settings
from web4os.credits import routes as credits_routes
from web4os.db import session_factory
from web4os.errors import DomainError, Forbidden, NotAuthenticated
from web4os.files import routes as files_routes
from web4os.gc_freeze import freeze_startup_objects
from web4os.goals import approval_routes, report_routes
from web4os.goals import file_routes as goal_file_routes
from web4os.goals import routes as goals_routes
from web4os.goals.board import needs_you_on_page
from web4os.goals.credit_warning import credit_warning_on_page
from web4os.goaltemplates import routes as goaltemplates_routes
from web4os.notifications import routes as notification_routes
from web4os.onboarding import routes as onboarding_routes
from web4os.playbooks import routes as playbooks_routes
from web4os.routines import routes as routines_routes
from web4os.tools import routes as tools_routes
from web4os.usage import routes as usage_routes
from web4os.usage.agent_work import agent_work_on_page
from web4os.web.csrf import CSRF_COOKIE
from web4os.web.forms import with_retry_after
from web4os.web.headers import SecurityHeaders
from web4os.web.limits import MAX_BODY_BYTES as MAX_BODY_BYTES  # the limit tests read
from web4os.web.limits import BodyLimit, body_limit, too_large
from web4os.web.templating import STATIC_DIR, page_value, render, templates
from web4os.webhooks import routes as webhooks_routes
from web4os.workers import install_queue
from web4os.workers.embedded import EmbeddedRunner

ROUTERS = (accounts_routes.router, settings_routes.router, onboarding_routes.router,
           admin_routes.router, token_routes.router, goals_routes.router, api_routes.router,
           api_routes.tasks_router, api_routes.me_router, api_agents.router, api_notes.router,
           api_credits.router, api_admin.router, api_admin_tokens.router, usage_routes.router,
           health.router, agents_routes.router, tools_routes.router,
           api_tools.router, approval_routes.router, files_routes.router,
           goal_file_routes.router, api_files.router, report_routes.router, api_reports.router,
           api_budgets.router, api_accounts.router, accountdata_routes.router,
           api_account_data.router, admin_data_routes.router, api_docs.router,
           webhooks_routes.router, api_webhooks.router, routines_routes.router,
           api_routines.router, credits_routes.router,
           notification_routes.router, notification_api.router,
           goaltemplates_routes.router, api_goal_templates.router,
           playbooks_routes.router, playbooks_api.router)

log = logging.getLogger("web4os.web")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_page(request: Request, status: int, title: str, message: str,
                needs: str | None = None) -> Response:
    """The error page; it only reads (the viewer, for the nav), so on SQLite its session
    is a deferred one that never waits for the write lock."""
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    if request.headers.get("HX-Request") == "true":
        # htmx swaps only 2xx by default; send the message to the page's toast area.
        with session_factory(immediate=False)(autoflush=False) as session:
            _reload_viewer(request, session)
            resp = render(request, "_error_fragment.html", {"message": message}, status_code=200)
        resp.headers["HX-Retarget"] = "#toast"
        resp.headers["HX-Reswap"] = "innerHTML"
        resp.headers["HX-Push-Url"] = "false"  # the page stays as it was, address and all
        return resp
    with session_factory(immediate=False)(autoflush=False) as session:
        _reload_viewer(request, session)
        return render(request, "error.html",
                      {"status": status, "title": title, "message": message, "needs": needs},
                      status_code=status)


def _reload_viewer(request: Request, session: Session) -> None:
    """The request's own session was rolled back and closed by the time an error page
    renders, so the viewer (nav, CSRF token, role) is loaded again in a fresh one; an
    error no route answered (404, 405) never loaded one, so its cookie is read here."""
    if getattr(request.state, "viewer", None) is None and SESSION_COOKIE not in request.cookies:
        return
    try:
        optional_viewer(request, session)
    except Exception:  # the error page must render even if the database is down
        log.exception("could not reload the viewer for an error page")
        request.state.viewer = None


_TITLES = {400: "That didn't work", 401: "Please log in", 403: "Not allowed",
           404: "Not found", 409: "That changed meanwhile", 413: "Too large",
           402: "Out of credits", 422: "Please check your input", 429: "Slow down"}


def download_outside_htmx(request: Request, response: Response) -> Response:
    """A download that htmx fetched (a boosted link) would be swapped in as the page, the
    address set to the file's: htmx is told to open the address itself instead, which
    the browser then saves as the file, leaving the page where it was."""
    if (request.headers.get("HX-Request") == "true" and response.headers.get(
            "content-disposition", "").startswith("attachment")):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Response(status_code=200, headers={"HX-Redirect": target,
                                                  "HX-Push-Url": "false"})
    return response


def stay_on_form_page(request: Request, response: Response) -> None:
    """A boosted form's answer that is not a redirect is the form's page again (a refusal
    with the input kept, or a one-time secret): the address stays that page's, so a
    reload shows it rather than a GET of the form's POST-only address (405).

    Successful posts redirect (303, post/redirect/get) and htmx pushes where they land;
    a handler that renders another page than the form's names it in ``HX-Push-Url``.
    """
    if (request.method not in READ_METHODS and request.headers.get("HX-Boosted") == "true"
            and "HX-Push-Url" not in response.headers
            and not 300 <= response.status_code < 400):
        response.headers["HX-Push-Url"] = "false"


def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if isinstance(exc, NotAuthenticated) and not _wants_json(request):
        if request.headers.get("HX-Request") == "true":
            return Response(status_code=200, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    if exc.field is not None and _wants_json(request):  # name the field a client must fix
        return with_retry_after(JSONResponse({"detail": exc.message, "field": exc.field},
                                             status_code=exc.status_code), exc)
    needs = exc.needs if isinstance(exc, Forbidden) else None
    return with_retry_after(_error_page(request, exc.status_code,
                                        _TITLES.get(exc.status_code, "Error"), exc.message,
                                        needs), exc)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = str(exc.detail) if exc.detail else "Something went wrong."
    if exc.status_code == 404:
        message = "There's nothing here. Check the address, or go back to your goals."
    elif exc.status_code == 405:
        message = ("That address takes a form's answer; it isn't a page to open. Go back to "
                   "the page with the form, or to your goals.")
    return _error_page(request, exc.status_code, _TITLES.get(exc.status_code, "Error"), message)


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    parts, fields = [], []
    for err in exc.errors()[:10]:
        where = tuple(err.get("loc", ()))
        if where and where[0] in ("body", "query", "path", "header"):
            where = where[1:]  # where it came from, not a field (a field may be "body")
        loc = ".".join(str(p) for p in where)
        fields.append(loc)
        msg = str(err.get("msg")).removeprefix("Value error, ")  # pydantic's, not ours
        parts.append(f"{loc}: {msg}" if loc else msg)
    message = "; ".join(parts) or "The request is not valid."
    if _wants_json(request):
        body: dict[str, Any] = {"detail": message}
        if fields and fields[0]:
            body["field"] = fields[0]  # the first to fix, as every other 4xx names it
        body["errors"] = _jsonable(exc.errors())
        return JSONResponse(body, status_code=422)
    return _error_page(request, 422, _TITLES[422], message)


def _jsonable(errors: Any) -> Any:
    """The errors without the refused input: the client has it, and it may not even be
    encodable (a lone surrogate)."""
    out = []
    for err in errors:
        out.append({k: (list(v) if isinstance(v, tuple)
                        else v if isinstance(v, (str, int, float, list, type(None))) else str(v))
                    for k, v in err.items() if k not in ("ctx", "input")})
    return out


def _out_of_range(request: Request, exc: Exception) -> Response:
    """An id or number too big for the database (found by tests/hardening): a 4xx, not a crash."""
    return _error_page(request, 422, _TITLES[422],
                       "A number or text in the request is out of range for what it names.")


def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    return _error_page(request, 500, "Something broke on our side",
                       "Nothing you did caused this, and nothing was half-saved. Try again in a "
                       "moment; if it keeps happening, tell your admin.")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    _compile_templates()
    freeze_startup_objects()
    queue = install_queue(start_embedded=app.state.start_worker)
    yield
    if isinstance(queue, EmbeddedRunner):
        queue.shutdown(wait=False)


def _compile_templates() -> None:
    """Compile every page template at start-up, not on its first request."""
    for name in templates.env.list_templates(extensions=["html"]):
        templates.env.get_template(name)


class _App(FastAPI):
    """FastAPI with the security headers outside everything, Starlette's 500 handler too."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def create_app(*, start_worker: bool = True) -> FastAPI:
    """Build the app. ``start_worker`` runs the in-process worker (embedded default)."""
    app = _App(title="web4os", version=__version__, lifespan=_lifespan,
                  docs_url=None, openapi_url="/api/v1/openapi.json", redoc_url=None)
    app.state.start_worker = start_worker

    # Chunked bodies have no length: counted as they arrive. Added before ``guard`` so it
    # sits inside it and its 413 reaches FastAPI as such, not wrapped by guard's task group.
    app.add_middleware(BodyLimit)

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        limit = body_limit(request.url.path, request.headers.get("content-type", ""))
        if length is not None and (not length.isdigit() or int(length) > limit):
            return _error_page(request, 413, _TITLES[413], too_large(limit))
        fresh_csrf = ""
        if CSRF_COOKIE not in request.cookies:
            fresh_csrf = new_token(24)
            request.state.csrf_cookie = fresh_csrf
        response = await call_next(request)
        response = download_outside_htmx(request, response)
        stay_on_form_page(request, response)
        if fresh_csrf:
            response.set_cookie(CSRF_COOKIE, fresh_csrf, httponly=True, samesite="lax",
                                secure=get_settings().secure_cookies)
        return response

    # Plain functions: an error page reloads the viewer from the database, so Starlette
    # runs these in its threadpool, off the event loop.
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(DataError, _out_of_range)
    app.add_exception_handler(Exception, _unexpected)
    api_docs.mount_assets(app)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    page_value("needs_you", needs_you_on_page)
    page_value("credit_warning", credit_warning_on_page)
    page_value("unread_notifications", notification_routes.unread_on_page)
    page_value("confirm_email", onboarding_routes.confirm_email_on_page)
    page_value("agent_work", agent_work_on_page)
    for router in ROUTERS:  # the OpenAPI document describes the JSON API, not the pages
        app.include_router(router, include_in_schema=_is_api(router))
    return app


def _is_api(router: APIRouter) -> bool:
    return all(getattr(route, "path", "").startswith(API_PREFIX) for route in router.routes)

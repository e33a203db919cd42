"""Nothing that can wait for the database runs on the event loop.

An ``async def`` handler runs on the event loop itself, so one waiting for SQLite's
write lock stops every other request, the one holding the lock included. Handlers,
dependencies and exception handlers are plain functions (FastAPI and Starlette run
those in the threadpool); the only coroutines are the few below, which read the
request's body or wait for a turn, and touch no database.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from web4os.app import create_app
from web4os.web.deps import database_turn
from web4os.web.forms import form_data, form_lists, posted_form, upload_form

# Async, and never touching the database: reading the posted form, waiting for a turn
# (web.deps.database_turn), FastAPI's bearer-token reader.
ASYNC_ALLOWED = {"form_data", "form_lists", "posted_form", "upload_form", "database_turn",
                 "HTTPBearer"}


def _is_async(call: Callable[..., Any]) -> bool:
    return (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)
            or inspect.iscoroutinefunction(type(call).__call__))  # a callable object


def _name(call: Callable[..., Any]) -> str:
    return getattr(call, "__name__", type(call).__name__)


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def _routes() -> list[tuple[str, APIRoute]]:
    out = []
    for rc in iter_route_contexts(create_app(start_worker=False).routes):
        route = rc.route if isinstance(rc.route, APIRoute) else rc.original_route
        if isinstance(route, APIRoute):
            methods = ",".join(sorted(route.methods or ()))
            out.append((f"{methods} {rc.path_format or rc.path}", route))
    return out


def test_every_handler_and_dependency_runs_in_the_threadpool() -> None:
    routes = _routes()
    assert len(routes) > 50  # the walk reaches the included routers
    on_the_loop = sorted({f"{where}: {_name(call)}" for where, route in routes
                          for call in _calls(route.dependant)
                          if _is_async(call) and _name(call) not in ASYNC_ALLOWED})
    assert on_the_loop == [], ("async handlers or dependencies (make them plain `def`; read "
                               "forms with web.forms.FormValues): " + "\n".join(on_the_loop))


def test_the_allowed_coroutines_are_the_ones_named() -> None:
    """The allow-list names real functions: a rename cannot silently widen it."""
    assert {f.__name__ for f in (form_data, form_lists, posted_form, upload_form,
                                 database_turn)} | {
        "HTTPBearer"} == ASYNC_ALLOWED


def test_exception_handlers_run_in_the_threadpool() -> None:
    """Error pages reload the viewer from the database."""
    app = create_app(start_worker=False)
    ours = {exc: h for exc, h in app.exception_handlers.items()
            if getattr(h, "__module__", "").startswith("web4os.")}
    assert len(ours) >= 5
    assert [_name(h) for h in ours.values() if _is_async(h)] == []

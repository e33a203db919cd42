"""Request plumbing every router shares: the database session, the client's address and
whether htmx asked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import anyio
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from web4os.config import get_settings
from web4os.db import is_sqlite, unit_of_work

SQLITE_REQUESTS_AT_ONCE = 8  # well under the 40 threads FastAPI runs handlers on


async def database_turn(request: Request) -> AsyncIterator[None]:
    """On SQLite, let a few requests at a time hold a session; the others wait here, on
    the event loop, without a thread.

    Every request's transaction takes SQLite's one write lock (``BEGIN IMMEDIATE``),
    and a request hops between threadpool threads (its dependencies, the handler, the
    commit). Were all the pool's threads waiting for the lock, the request holding it
    could get no thread to commit on, and every one of them would wait out the lock's
    timeout. Postgres has no such lock, so nothing waits there.
    """
    if not is_sqlite(get_settings().resolved_database_url):
        yield
        return
    turns: anyio.Semaphore | None = getattr(request.app.state, "sqlite_turns", None)
    if turns is None:
        turns = request.app.state.sqlite_turns = anyio.Semaphore(SQLITE_REQUESTS_AT_ONCE)
    async with turns:
        yield


def request_session(
    request: Request, _turn: Annotated[None, Depends(database_turn, scope="function")]
) -> Iterator[Session]:
    """The request's unit of work, also kept on ``request.state`` so values every page
    shows (``templating.page_value``) are read through the same session."""
    with unit_of_work() as session:
        request.state.session = session
        try:
            yield session
        finally:
            request.state.session = None


SessionDep = Annotated[Session, Depends(request_session, scope="function")]


def client_address(request: Request) -> str:
    """Who is asking, for rate limits: the connection's peer, which uvicorn replaces with
    the forwarded client only when the peer is one of ``WEB4OS_TRUSTED_PROXIES``."""
    return request.client.host if request.client else "unknown"


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


HtmxDep = Annotated[bool, Depends(is_htmx)]

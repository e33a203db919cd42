"""Request plumbing every router shares: the database session, the client's address and
whether htmx asked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from web4os.db import unit_of_work


def request_session(request: Request) -> Iterator[Session]:
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

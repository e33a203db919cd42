"""Request plumbing every router shares: the database session and whether htmx asked."""

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


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


HtmxDep = Annotated[bool, Depends(is_htmx)]

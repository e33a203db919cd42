"""What every ``/api/v1`` route tells its clients: one tag per domain, an operation id
(the endpoint's name, unless it gives its own), and the one error shape.

Routers are made with :func:`api_router`, so a route added later inherits all three;
``tests/api/test_openapi.py`` fails on one that lacks any of them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

PREFIX = "/api/v1"


class ErrorOut(BaseModel):
    """Every error answer: ``detail`` says what went wrong in plain words."""

    detail: str = Field(description="What went wrong, in words to show a person.")
    field: str | None = Field(default=None,
                              description="The request field to fix, when one is to blame.")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="On 422: each refused part, without the refused input: "
                                  "``loc``, ``msg``, ``type`` from request validation; "
                                  "``line``, ``field``, ``message`` for a refused playbook.")


_MEANINGS = {
    401: "No token, or the token is not valid (revoked or mistyped).",
    403: "The token's role or kind can't do this, or the account is suspended.",
    404: "No such thing in this account (another account's ids answer this too).",
    409: "The thing's current state doesn't allow this.",
    422: "The request's content is not acceptable; ``field`` names what to fix.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for ``codes``, all with the shared error schema."""
    return {code: {"model": ErrorOut, "description": _MEANINGS.get(code, "Refused.")}
            for code in codes}


COMMON_ERRORS = error_responses(401, 403, 404, 409, 422)


def _operation_id(route: APIRoute) -> str:
    """The endpoint's function name: short, stable, and what a client library calls."""
    return route.name


def api_router(tag: str | None, prefix: str = PREFIX) -> APIRouter:
    """A router of one domain's JSON routes under ``/api/v1`` (``tag`` None: each route
    names its own, for a module that serves a few small domains)."""
    return APIRouter(prefix=prefix, tags=[tag] if tag else [], responses=COMMON_ERRORS,
                     generate_unique_id_function=_operation_id)

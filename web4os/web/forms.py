"""Reading HTML forms and turning validation problems into per-field messages."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError

from web4os.errors import DomainError, RateLimited
from web4os.text import TextRefused

MAX_FIELD = 100_000


async def form_data(request: Request) -> dict[str, str]:
    """The posted form as plain strings (files and over-long fields refused politely)."""
    form = await request.form()
    out: dict[str, str] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise DomainError("File uploads aren't accepted here.")
        if len(value) > MAX_FIELD:
            raise DomainError(f"The field “{key}” is too long.", field=key)
        out[key] = value
    return out


def field_errors(exc: Exception) -> dict[str, str]:
    """``{field: message}`` from a pydantic or domain error, for rendering beside inputs."""
    if isinstance(exc, ValidationError):
        errors: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "__all__"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "missing":
                msg = "This field is required."
            errors.setdefault(field, msg)
        return errors
    if isinstance(exc, TextRefused):  # beside the field, and named above the form
        return {exc.field or "__all__": exc.reason, "__all__": exc.message}
    if isinstance(exc, DomainError):
        return {exc.field or "__all__": exc.message}
    return {"__all__": str(exc)}


def with_retry_after(response: Response, exc: Exception) -> Response:
    """A refused-for-now answer says when to come back (``Retry-After``, in seconds)."""
    if isinstance(exc, RateLimited) and exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response

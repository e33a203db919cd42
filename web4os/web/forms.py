"""Reading HTML forms and turning validation problems into per-field messages.

Forms are read by async dependencies (``FormValues``, ``FormLists``, ``UploadForm``), so
the handlers that use them stay plain ``def`` functions: FastAPI runs those in its
threadpool, and a handler waiting for the database never blocks the event loop every
other request needs.
"""

from __future__ import annotations

from typing import Annotated, NamedTuple

from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

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


async def form_lists(request: Request) -> dict[str, list[str]]:
    """Every value of each field (a group of checkboxes posts one name many times)."""
    await form_data(request)  # the same checks
    out: dict[str, list[str]] = {}
    for key, value in (await request.form()).multi_items():
        out.setdefault(key, []).append(str(value))
    return out


async def posted_form(request: Request) -> FormData | None:
    """The posted form, read before any database work of the request begins (the CSRF
    check depends on it first), so a slow upload never holds a transaction open."""
    if "form" not in request.headers.get("content-type", ""):
        return None
    return await request.form()


FILE_FIELD = "files"


class Upload(NamedTuple):
    """A multipart form: its text fields, and the files sent in ``files`` (name, bytes)."""

    values: dict[str, str]
    files: list[tuple[str, bytes]]


async def upload_form(request: Request) -> Upload:
    """A multipart form's text fields and files, read before the handler's database work
    like every other form; an empty file input (no name, no bytes) is no file. The body
    limit bounds what is read."""
    form = await request.form()
    values: dict[str, str] = {}
    files: list[tuple[str, bytes]] = []
    for key, value in form.multi_items():
        if isinstance(value, str):
            if len(value) > MAX_FIELD:
                raise DomainError(f"The field “{key}” is too long.", field=key)
            values[key] = value
        elif key != FILE_FIELD:
            raise DomainError("File uploads aren't accepted here.")
        else:
            data = await value.read()
            if value.filename or data:
                files.append((value.filename or "", data))
    return Upload(values, files)


FormValues = Annotated[dict[str, str], Depends(form_data)]
FormLists = Annotated[dict[str, list[str]], Depends(form_lists)]
UploadForm = Annotated[Upload, Depends(upload_form)]


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

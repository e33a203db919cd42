"""Reading HTML forms and turning validation problems into per-field messages."""

from __future__ import annotations

from fastapi import Request
from pydantic import ValidationError

from web4os.errors import DomainError

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


async def upload_form(request: Request,
                      file_field: str = "files") -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    """A multipart form's fields and the files sent in ``file_field`` (name, bytes); an
    empty file input (no name, no bytes) is no file. The body limit bounds what is read."""
    form = await request.form()
    values: dict[str, str] = {}
    files: list[tuple[str, bytes]] = []
    for key, value in form.multi_items():
        if isinstance(value, str):
            if len(value) > MAX_FIELD:
                raise DomainError(f"The field “{key}” is too long.", field=key)
            values[key] = value
        elif key != file_field:
            raise DomainError("File uploads aren't accepted here.")
        else:
            data = await value.read()
            if value.filename or data:
                files.append((value.filename or "", data))
    return values, files


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
    if isinstance(exc, DomainError):
        return {exc.field or "__all__": exc.message}
    return {"__all__": str(exc)}

"""The request-body limit, enforced on the bytes actually received.

The ``Content-Length`` check in the app's guard refuses declared oversize bodies
up front; a chunked upload declares no length, so this wrapper counts what
arrives and stops reading at the limit (found by tests/hardening/test_forms.py).
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web4os.config import get_settings
from web4os.web.templating import filesize

TOO_LARGE = "That request is too large (the limit is 1 MB)."
MAX_BODY_BYTES = 1_000_000
FILES_PER_FORM = 5  # files one upload form may carry at full size
# Where files are uploaded (multipart only): the goal form, a goal's files, knowledge.
UPLOAD_PATHS = re.compile(r"^(/api/v1)?/(goals|goals/[0-9]+/files|knowledge)$")
# Where a playbook is sent (as YAML to the API, or a form's file): room for embedded files.
PLAYBOOK_PATHS = re.compile(r"^/api/v1/playbooks/(preview|import)$")
PLAYBOOK_UPLOAD = "/playbook/preview"
PLAYBOOK_BYTES = 23_000_000  # the loader's own limit (22 MB) and a form's envelope


def body_limit(path: str, content_type: str) -> int:
    """The most bytes a request may send: 1 MB, or room for files where they are uploaded."""
    multipart = content_type.startswith("multipart/form-data")
    if PLAYBOOK_PATHS.match(path) or (multipart and path == PLAYBOOK_UPLOAD):
        return PLAYBOOK_BYTES
    if content_type.startswith("multipart/form-data") and UPLOAD_PATHS.match(path):
        return get_settings().max_file_bytes * FILES_PER_FORM + MAX_BODY_BYTES
    return MAX_BODY_BYTES


def too_large(limit: int) -> str:
    """The refusal's words for a body over ``limit``."""
    if limit == MAX_BODY_BYTES:
        return TOO_LARGE
    if limit == PLAYBOOK_BYTES:
        return "That playbook is too large (the limit is 22 MB with embedded files)."
    return (f"That upload is too large: files can be at most "
            f"{filesize(get_settings().max_file_bytes)} each.")


class _TooLarge(HTTPException):
    """Raised inside ``receive``. An HTTP error, so FastAPI's body parsing passes it on
    (any other error there becomes a 400) and the app's handlers render the 413 page or
    JSON; :class:`BodyLimit` answers for a read outside the router's handlers."""

    def __init__(self, message: str) -> None:
        super().__init__(413, message)


def _is_too_large(exc: BaseException) -> bool:
    if isinstance(exc, _TooLarge):
        return True
    if isinstance(exc, BaseExceptionGroup):  # raised from inside a middleware's task group
        return exc.split(_TooLarge)[0] is not None
    return False


class BodyLimit:
    """ASGI middleware: a body past its ``body_limit`` ends the request with a 413."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
        limit = body_limit(scope["path"], content_type.decode("latin-1"))
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(too_large(limit))
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except Exception as exc:
            if started or not _is_too_large(exc):
                raise
            message = too_large(limit)
            response: Response = (
                JSONResponse({"detail": message}, status_code=413)
                if scope["path"].startswith("/api/")
                else PlainTextResponse(message, status_code=413)
            )
            await response(scope, receive, send)

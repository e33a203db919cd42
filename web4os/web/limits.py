"""The request-body limit, enforced on the bytes actually received.

The ``Content-Length`` check in the app's guard refuses declared oversize bodies
up front; a chunked upload declares no length, so this wrapper counts what
arrives and stops reading at the limit (found by tests/hardening/test_forms.py).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOO_LARGE = "That request is too large (the limit is 1 MB)."


class _TooLarge(HTTPException):
    """Raised inside ``receive``. An HTTP error, so FastAPI's body parsing passes it on
    (any other error there becomes a 400) and the app's handlers render the 413 page or
    JSON; :class:`BodyLimit` answers for a read outside the router's handlers."""

    def __init__(self) -> None:
        super().__init__(413, TOO_LARGE)


def _is_too_large(exc: BaseException) -> bool:
    if isinstance(exc, _TooLarge):
        return True
    if isinstance(exc, BaseExceptionGroup):  # raised from inside a middleware's task group
        return exc.split(_TooLarge)[0] is not None
    return False


class BodyLimit:
    """ASGI middleware: a body past ``max_bytes`` ends the request with a 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
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
            response: Response = (
                JSONResponse({"detail": TOO_LARGE}, status_code=413)
                if scope["path"].startswith("/api/")
                else PlainTextResponse(TOO_LARGE, status_code=413)
            )
            await response(scope, receive, send)

"""A recorded, scripted fake of an OpenAI-compatible chat-completions server.

Standard library only. Tests drive the real ``openai`` SDK against it over
real HTTP on 127.0.0.1::

    with FakeOpenAI() as fake:
        fake.reply("hello", prompt_tokens=3, completion_tokens=1)
        client = openai.OpenAI(base_url=fake.base_url, api_key="test", max_retries=0)
        out = client.chat.completions.create(model="m", messages=[...])
        assert fake.last_messages[-1]["content"] == ...

Replies are consumed in order, one per ``POST /v1/chat/completions``. An empty
queue answers 500 "FakeOpenAI: no scripted reply left" so tests fail loudly.

Like llama.cpp, it can serve ``GET /props`` (set ``props``); like vLLM, it can list
a ``max_model_len`` with its models (set ``max_model_len``). By default neither.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["NO_REPLY_MESSAGE", "FakeOpenAI", "ScriptedReply"]

NO_REPLY_MESSAGE = "FakeOpenAI: no scripted reply left"
DEFAULT_MODEL = "fake-model"
CHAT_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"
PROPS_PATH = "/props"

# Default OpenAI error ``type``/``code`` per HTTP status (mirrors the real API).
_ERROR_DEFAULTS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_denied", None),
    404: ("invalid_request_error", "not_found"),
    409: ("invalid_request_error", "conflict"),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}


@dataclass
class ScriptedReply:
    """One queued answer: a completion, a tool call, or an error (optionally delayed)."""

    kind: str  # "content" | "tool_call" | "error"
    content: str | None = None
    prompt_tokens: int = 10
    completion_tokens: int = 5
    model: str | None = None
    finish_reason: str = "stop"
    tool_name: str | None = None
    tool_arguments: str | None = None
    status: int = 200
    error_message: str | None = None
    error_type: str | None = None
    error_code: str | None = None
    error_fields: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def _error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    """Build an OpenAI-shaped error body."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def _split(text: str, size: int = 8) -> list[str]:
    """Split text into stream-sized pieces (at least one piece)."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class _Server(ThreadingHTTPServer):
    """HTTP server that knows its owning fake."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeOpenAI) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients hanging up; record and print anything else."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError) or self.fake._stopping.is_set():
            return
        self.fake.server_errors.append(f"{type(exc).__name__}: {exc}")
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Request handler delegating to the fake."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence default stderr logging."""

    def do_GET(self) -> None:
        """Handle GET requests."""
        self.server.fake._handle(self, "GET")

    def do_POST(self) -> None:
        """Handle POST requests."""
        self.server.fake._handle(self, "POST")

    def do_DELETE(self) -> None:
        """Handle DELETE requests (always 404)."""
        self.server.fake._handle(self, "DELETE")


class FakeOpenAI:
    """Scripted, recording fake OpenAI server; use as a context manager."""

    def __init__(self, *, models: tuple[str, ...] = (DEFAULT_MODEL, "gpt-4o-mini")) -> None:
        """Create the fake (server starts on ``__enter__``)."""
        self.models: tuple[str, ...] = models
        self.props: dict[str, Any] | None = None  # served at GET /props when set (llama.cpp)
        self.max_model_len: int | None = None  # listed with each model when set (vLLM)
        self.requests: list[dict[str, Any]] = []
        self.server_errors: list[str] = []  # unexpected server-side exceptions
        self._queue: deque[ScriptedReply] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self) -> FakeOpenAI:
        """Start serving on an OS-chosen port."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop serving."""
        self.stop()

    def start(self) -> None:
        """Start the background server thread."""
        if self._server is not None:
            return
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the server; wakes any handler sleeping in a delay."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not running (use it as a context manager)")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """Base URL for ``openai.OpenAI(base_url=...)``, ending in ``/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # ----------------------------------------------------------------- scripting
    def _push(self, item: ScriptedReply) -> FakeOpenAI:
        with self._lock:
            self._queue.append(item)
        return self

    def reply(
        self,
        content: str,
        *,
        prompt_tokens: int = 10,
        completion_tokens: int = 5,
        model: str | None = None,
        finish_reason: str = "stop",
        headers: Mapping[str, str] | None = None,
        _delay: float = 0.0,
    ) -> FakeOpenAI:
        """Queue a normal completion (``model`` defaults to the requested model)."""
        return self._push(
            ScriptedReply(
                kind="content",
                content=content,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                model=model,
                finish_reason=finish_reason,
                headers=dict(headers or {}),
                delay=_delay,
            )
        )

    def reply_json(self, obj: Any, **kwargs: Any) -> FakeOpenAI:
        """Queue a completion whose content is ``json.dumps(obj)``."""
        return self.reply(json.dumps(obj), **kwargs)

    def error(
        self,
        status: int,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        type: str | None = None,
        code: str | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> FakeOpenAI:
        """Queue an error response ``{"error": {"message", "type", "param", "code"}}``, plus
        any extra ``fields`` (llama.cpp adds ``n_ctx`` and ``n_prompt_tokens``)."""
        default_type, default_code = _ERROR_DEFAULTS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None)
        )
        return self._push(
            ScriptedReply(
                kind="error",
                status=status,
                error_message=message,
                error_type=type or default_type,
                error_code=code if code is not None else default_code,
                error_fields=dict(fields or {}),
                headers=dict(headers or {}),
            )
        )

    def delay(self, seconds: float, content: str = "", **kwargs: Any) -> FakeOpenAI:
        """Queue a completion that sleeps ``seconds`` first (e.g. to trigger client timeouts)."""
        return self.reply(content, _delay=seconds, **kwargs)

    def tool_call(
        self,
        name: str,
        arguments_json: str | Mapping[str, Any],
        *,
        prompt_tokens: int = 10,
        completion_tokens: int = 5,
        model: str | None = None,
    ) -> FakeOpenAI:
        """Queue a reply whose message carries one function ``tool_calls`` entry."""
        args = arguments_json if isinstance(arguments_json, str) else json.dumps(arguments_json)
        return self._push(
            ScriptedReply(
                kind="tool_call",
                tool_name=name,
                tool_arguments=args,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                model=model,
                finish_reason="tool_calls",
            )
        )

    # ----------------------------------------------------------------- inspection
    @property
    def remaining(self) -> int:
        """Number of scripted replies not yet consumed."""
        with self._lock:
            return len(self._queue)

    def assert_all_used(self) -> None:
        """Fail if any scripted reply was never consumed."""
        left = self.remaining
        assert left == 0, f"FakeOpenAI: {left} scripted reply(ies) never consumed"

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """Recorded ``POST /v1/chat/completions`` requests, in order."""
        with self._lock:
            return [r for r in self.requests if r["method"] == "POST" and r["path"] == CHAT_PATH]

    @property
    def last_request(self) -> dict[str, Any]:
        """The most recent chat-completions request."""
        reqs = self.chat_requests
        assert reqs, "FakeOpenAI: no chat completion request recorded"
        return reqs[-1]

    @property
    def last_messages(self) -> list[dict[str, Any]]:
        """``messages`` of the most recent chat-completions request."""
        return list(self.last_request.get("messages") or [])

    # ----------------------------------------------------------------- serving
    def _next_id(self, prefix: str) -> str:
        return f"{prefix}-fake-{next(self._ids)}"

    def _handle(self, h: _Handler, method: str) -> None:
        """Record the request, then dispatch it."""
        path = h.path.split("?", 1)[0]
        length = int(h.headers.get("content-length") or 0)
        raw = h.rfile.read(length) if length else b""
        body: Any = None
        bad_json = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                bad_json = True
        record: dict[str, Any] = dict(body) if isinstance(body, dict) else {}
        record.update(
            method=method,
            path=path,
            headers={k.lower(): v for k, v in h.headers.items()},
            body=body if not bad_json else raw.decode("utf-8", "replace"),
        )
        with self._lock:
            self.requests.append(record)
        try:
            if bad_json:
                self._send_json(
                    h,
                    400,
                    _error_body(
                        "FakeOpenAI: request body is not JSON", "invalid_request_error", None
                    ),
                )
            elif method == "GET" and path == MODELS_PATH:
                self._send_json(h, 200, self._models_body())
            elif method == "GET" and path == PROPS_PATH and self.props is not None:
                self._send_json(h, 200, self.props)
            elif method == "POST" and path == CHAT_PATH:
                self._chat(h, body if isinstance(body, dict) else {})
            else:
                msg = f"FakeOpenAI: unknown endpoint {method} {path}"
                self._send_json(h, 404, _error_body(msg, "invalid_request_error", "unknown_url"))
        except ConnectionError:
            h.close_connection = True  # client gave up (e.g. timed out); nothing to answer
        except Exception as exc:
            h.close_connection = True
            msg = f"FakeOpenAI internal error: {type(exc).__name__}: {exc}"
            self.server_errors.append(msg)
            with contextlib.suppress(OSError):
                self._send_json(h, 500, _error_body(msg, "server_error", "fake_internal_error"))

    def _models_body(self) -> dict[str, Any]:
        created = int(time.time())
        return {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": created, "owned_by": "fake-openai",
                 **({"max_model_len": self.max_model_len} if self.max_model_len else {})}
                for m in self.models
            ],
        }

    def _chat(self, h: _Handler, req: dict[str, Any]) -> None:
        """Answer a chat-completions request from the script."""
        with self._lock:
            item = self._queue.popleft() if self._queue else None
        if item is None:
            self._send_json(h, 500, _error_body(NO_REPLY_MESSAGE, "server_error", "fake_no_reply"))
            return
        if item.delay > 0 and self._stopping.wait(item.delay):
            return  # server shutting down
        if item.kind == "error":
            body = _error_body(
                item.error_message or "", item.error_type or "server_error", item.error_code
            )
            body["error"].update(item.error_fields)
            self._send_json(h, item.status, body, item.headers)
            return
        model = item.model or str(req.get("model") or DEFAULT_MODEL)
        if req.get("stream"):
            opts = req.get("stream_options") or {}
            self._send_stream(h, item, model, bool(opts.get("include_usage")))
        else:
            self._send_json(h, 200, self._completion(item, model), item.headers)

    @staticmethod
    def _usage(item: ScriptedReply) -> dict[str, int]:
        return {
            "prompt_tokens": item.prompt_tokens,
            "completion_tokens": item.completion_tokens,
            "total_tokens": item.prompt_tokens + item.completion_tokens,
        }

    def _tool_calls(self, item: ScriptedReply) -> list[dict[str, Any]]:
        return [
            {
                "id": self._next_id("call"),
                "type": "function",
                "function": {"name": item.tool_name, "arguments": item.tool_arguments},
            }
        ]

    def _completion(self, item: ScriptedReply, model: str) -> dict[str, Any]:
        """Build a full ``chat.completion`` object."""
        message: dict[str, Any] = {"role": "assistant", "content": item.content, "refusal": None}
        if item.kind == "tool_call":
            message["tool_calls"] = self._tool_calls(item)
        return {
            "id": self._next_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": item.finish_reason,
                }
            ],
            "usage": self._usage(item),
        }

    def _chunks(
        self, item: ScriptedReply, model: str, include_usage: bool
    ) -> Iterator[dict[str, Any]]:
        """Yield ``chat.completion.chunk`` objects like the real API."""
        base: dict[str, Any] = {
            "id": self._next_id("chatcmpl"),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            c = dict(
                base,
                choices=[{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            )
            if include_usage:
                c["usage"] = None
            return c

        if item.kind == "tool_call":
            call = self._tool_calls(item)[0]
            first = {
                "index": 0,
                "id": call["id"],
                "type": "function",
                "function": {"name": item.tool_name, "arguments": ""},
            }
            yield chunk({"role": "assistant", "content": None, "tool_calls": [first]})
            for piece in _split(item.tool_arguments or ""):
                yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        else:
            yield chunk({"role": "assistant", "content": "", "refusal": None})
            for piece in _split(item.content or ""):
                yield chunk({"content": piece})
        yield chunk({}, item.finish_reason)
        if include_usage:
            yield dict(base, choices=[], usage=self._usage(item))

    def _send_stream(
        self, h: _Handler, item: ScriptedReply, model: str, include_usage: bool
    ) -> None:
        """Send an SSE stream using chunked transfer encoding."""
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream; charset=utf-8")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("x-request-id", self._next_id("req"))
        for k, v in item.headers.items():
            h.send_header(k, v)
        h.end_headers()

        def write(data: bytes) -> None:
            h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            h.wfile.flush()

        for c in self._chunks(item, model, include_usage):
            write(f"data: {json.dumps(c)}\n\n".encode())
        write(b"data: [DONE]\n\n")
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()

    def _send_json(
        self, h: _Handler, status: int, body: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        """Send a JSON response with Content-Length."""
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.send_header("x-request-id", self._next_id("req"))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()

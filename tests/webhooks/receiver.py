"""A webhook receiver on loopback: records every request it gets, and answers with the
status codes it is told, one per request (the last repeating), or never answers."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"


@dataclass(frozen=True)
class Heard:
    headers: dict[str, str]
    body: bytes
    at: float


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.heard: list[Heard] = []
        self.answers: list[int] = [200]
        self.delay = 0.0
        self.hang = threading.Event()  # set: take the request and never answer
        self.released = threading.Event()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def next_answer(self) -> int:
        with self._lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def ids(self) -> list[str]:
        return [h.headers["webhook-id"] for h in self.heard]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.server.heard.append(Heard({k.lower(): v for k, v in self.headers.items()}, body,
                                       time.time()))
        if self.server.hang.is_set():
            self.server.released.wait(60)
            return
        if self.server.delay:
            time.sleep(self.server.delay)
        code = self.server.next_answer()
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@contextmanager
def receiving() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.released.set()
        server.shutdown()
        server.server_close()


def readme_verifier() -> Any:
    """``verify_webhook`` exactly as the README's Webhooks section gives it."""
    text = README.read_text()
    section = text[text.index("## Webhooks"):]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "the README's Webhooks section has no Python snippet"
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)
    return namespace["verify_webhook"]

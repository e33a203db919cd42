"""A small web site on loopback for fetch tests: pages, types, redirects, slow answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PAGE = (b"<!doctype html><html><head><title>Opening hours</title><style>p{color:red}</style>"
        b"<script>document.write('not text')</script></head><body><h1>Bakery</h1>"
        b"<p>Open <b>Monday</b> to Friday<br>8 &amp; 18 h</p><ul><li>Bread</li><li>Cake</li></ul>"
        b"</body></html>")
LATIN1 = "<html><head><meta charset='iso-8859-1'></head><body><p>Café crème</p></body></html>"


class Handler(BaseHTTPRequestHandler):
    """Answers by path; every request it serves is counted on its server."""

    server: Site

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.server.requests.append(parts.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        route = getattr(self, "page_" + parts.path.strip("/").replace("-", "_"), None)
        if route is None:
            self.answer(404, "text/html", b"<html><body><p>No such page</p></body></html>")
        else:
            route(query)

    def answer(self, status: int, content_type: str | None, body: bytes,
               headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def page_page(self, query: dict[str, str]) -> None:
        self.answer(200, "text/html; charset=utf-8", self.server.page)

    def page_text(self, query: dict[str, str]) -> None:
        self.answer(200, "text/plain; charset=utf-8", "plain words, ünïcode".encode())

    def page_json(self, query: dict[str, str]) -> None:
        self.answer(200, "application/json", b'{"open": true, "days": [1, 2]}')

    def page_image(self, query: dict[str, str]) -> None:
        self.answer(200, "image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)

    def page_untyped(self, query: dict[str, str]) -> None:
        self.answer(200, None, b"what is this")

    def page_latin1(self, query: dict[str, str]) -> None:
        self.answer(200, "text/html", LATIN1.encode("latin-1"))

    def page_big(self, query: dict[str, str]) -> None:
        self.answer(200, "text/plain", b"0123456789" * 10_000)

    def page_redirect(self, query: dict[str, str]) -> None:
        self.answer(int(query.get("status", "302")), "text/html", b"", {"Location": query["to"]})

    def page_loop(self, query: dict[str, str]) -> None:
        self.answer(302, "text/html", b"", {"Location": "/loop"})

    def page_stall(self, query: dict[str, str]) -> None:
        time.sleep(float(query.get("seconds", "3")))
        self.answer(200, "text/plain", b"late")

    def page_drip(self, query: dict[str, str]) -> None:
        """A body that never ends: a piece every tenth of a second."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for _ in range(100):
                self.wfile.write(b"drip ")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass


class Site(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, host: str, port: int = 0, page: bytes = PAGE) -> None:
        super().__init__((host, port), Handler)
        self.requests: list[str] = []
        self.page = page

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@contextmanager
def serving(site: Site) -> Iterator[Site]:
    thread = threading.Thread(target=site.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.shutdown()
        site.server_close()
        thread.join(5)

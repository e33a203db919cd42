"""Many people on one ``web4os serve`` at once, over HTTP, on the test database (SQLite,
or Postgres when WEB4OS_TEST_DATABASE_URL is set) with the in-process runner working the
goals they submit. No request may fail or stall: a handler waiting for the database must
never hold up the event loop, nor the threads, that the request it waits for needs.

The latency bound is deliberately loose (a loaded shared machine must not flake it);
``bench/users.py`` measures the real figures.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_DB_URL
from tests.factories import csrf_from
from tests.support.serve import log_tail, serve
from tests.support.users import SERVER_ENV, Results, run_sessions

SLOWEST_ALLOWED = 10.0  # seconds; a stalled request waits 30 s for SQLite's write lock


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    env = {**SERVER_ENV, "WEB4OS_DATABASE_URL": TEST_DB_URL}
    with serve(tmp_path, env) as url:
        yield url, tmp_path / "serve.log"


def _report(results: Results, log: Path) -> str:
    slow = [f"{r.step} {r.status} {r.seconds:.1f}s" for r in results.requests
            if r.seconds > SLOWEST_ALLOWED or r.status == 0 or r.status >= 500]
    return "\n".join([*results.problems(), *slow, "server log:", log_tail(log)])


def test_eight_people_four_at_a_time_each_finish_a_whole_session(
        served: tuple[str, Path]) -> None:
    url, log = served
    results = run_sessions(url, sessions=8, concurrency=4, timeout=60)

    assert results.server_errors == [], _report(results, log)
    assert results.finished == 8, _report(results, log)
    assert len(results.requests) == 8 * 11
    assert max(r.seconds for r in results.requests) < SLOWEST_ALLOWED, _report(results, log)


def test_a_burst_larger_than_the_threadpool_is_answered(served: tuple[str, Path]) -> None:
    """60 signed-in page loads at the same moment: more than the 40 threads that run
    handlers, so requests queue for the database without taking every thread."""
    url, log = served
    with httpx.Client(base_url=url, timeout=60) as owner:
        page = owner.get("/signup")
        resp = owner.post("/signup", data={
            "account_name": "Burst Bakery", "display_name": "Rosie",
            "email": "burst@example.com", "password": "flour and sugar 42",
            "csrf_token": csrf_from(page.text)})
        assert resp.status_code == 303, resp.text
        cookies = dict(owner.cookies)

    clients = 60
    start = threading.Barrier(clients)

    def load(path: str) -> tuple[int, float]:
        with httpx.Client(base_url=url, timeout=60, cookies=cookies) as c:
            start.wait()
            began = time.perf_counter()
            try:
                status = c.get(path).status_code
            except httpx.HTTPError:
                status = 0
            return status, time.perf_counter() - began

    paths = ["/", "/inbox", "/usage", "/settings"] * (clients // 4)
    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(load, paths))

    failed = [a for a in answers if a[0] != 200]
    assert failed == [], f"{failed}\n{log_tail(log)}"
    assert max(s for _, s in answers) < SLOWEST_ALLOWED, f"{sorted(answers)[-5:]}\n{log_tail(log)}"

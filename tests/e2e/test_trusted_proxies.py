"""``web4os serve`` believes X-Forwarded-For only from ``WEB4OS_TRUSTED_PROXIES`` (issue 19,
finding 3): otherwise any client on the same host as the server could pick the address
its wrong passwords are counted against."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.factories import csrf_from
from tests.support.serve import serve
from web4os.accounts.throttle import ADDRESS_LIMIT, PAIR_LIMIT


def _serve(tmp_path: Path, **settings: str) -> Iterator[str]:
    with serve(tmp_path, settings) as url:
        yield url


def _wrong_password(client: httpx.Client, email: str, forwarded_for: str) -> int:
    token = csrf_from(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": "not the password",
                                       "csrf_token": token},
                       headers={"X-Forwarded-For": forwarded_for}).status_code


def test_forged_forwarded_addresses_are_ignored_by_default(tmp_path: Path) -> None:
    for url in _serve(tmp_path):
        with httpx.Client(base_url=url, timeout=10) as client:
            for i in range(ADDRESS_LIMIT):
                assert _wrong_password(client, f"user{i}@example.com", f"10.9.0.{i}") == 400
            # Every try came from 127.0.0.1, whatever the header said: that address is done.
            assert _wrong_password(client, "one-more@example.com", "10.9.1.1") == 429


def test_a_trusted_proxy_forwards_the_client_address(tmp_path: Path) -> None:
    for url in _serve(tmp_path, WEB4OS_TRUSTED_PROXIES="127.0.0.1"):
        with httpx.Client(base_url=url, timeout=10) as client:
            for _ in range(PAIR_LIMIT):
                assert _wrong_password(client, "owner@example.com", "10.9.0.1") == 400
            assert _wrong_password(client, "owner@example.com", "10.9.0.1") == 429
            assert _wrong_password(client, "owner@example.com", "10.9.0.2") == 400

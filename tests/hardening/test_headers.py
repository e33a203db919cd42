"""Every answer of the app carries the security headers, error answers included, and
nothing a signed-in viewer sees may be stored; any body over the limit is a 413."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import Tenant, csrf_from, login
from web4os.accounts import tokens
from web4os.accounts.models import Role
from web4os.app import MAX_BODY_BYTES, create_app
from web4os.web.headers import SECURITY_HEADERS

FORM = "application/x-www-form-urlencoded"


def _boom() -> None:
    raise RuntimeError("a bug")


@pytest.fixture
def app() -> FastAPI:
    app = create_app(start_worker=False)
    app.add_api_route("/boom", _boom)  # an unhandled error: Starlette's outermost handler
    return app


@pytest.fixture
def anon(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _big_chunks() -> Iterator[bytes]:
    """A body over the limit with no Content-Length (sent chunked)."""
    yield b'{"title": "'
    for _ in range(12):
        yield b"x" * 100_000
    yield b'"}'


def _assert_secured(resp: Any, *, cache: bool = False) -> None:  # TestClient's response
    for name, value in SECURITY_HEADERS.items():
        assert resp.headers.get(name) == value, (resp.request.url, resp.status_code, name)
    if not cache:
        assert resp.headers.get("Cache-Control") == "no-store", (resp.request.url, resp.status_code)


def test_the_csp_pins_base_uri_and_form_targets() -> None:
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "base-uri 'none'" in csp and "form-action 'self'" in csp
    assert "frame-ancestors 'none'" in csp


def test_error_answers_carry_the_headers(anon: TestClient) -> None:
    too_long = "x" * (MAX_BODY_BYTES + 10)
    answers = {
        "page": anon.get("/login"),
        "404 page": anon.get("/no/such/page"),
        "404 API": anon.get("/api/v1/no-such-thing"),
        "401 API": anon.get("/api/v1/goals"),
        "500": anon.get("/boom"),
        "413 declared, page": anon.post("/login", content=f"email={too_long}",
                                        headers={"Content-Type": FORM}),
        "413 declared, API": anon.post("/api/v1/goals", content=too_long,
                                       headers={"Content-Type": "application/json"}),
        "413 chunked, page": anon.post("/login", content=_big_chunks(),
                                       headers={"Content-Type": FORM}),
        "413 chunked, API": anon.post("/api/v1/goals", content=_big_chunks(),
                                      headers={"Content-Type": "application/json"}),
    }
    assert answers["500"].status_code == 500
    for name, resp in answers.items():
        if name.startswith("413"):
            assert resp.status_code == 413, (name, resp.status_code, resp.text[:200])
            assert "too large" in resp.text
        _assert_secured(resp)


def test_any_body_over_the_limit_to_the_api_is_a_json_413(anon: TestClient,
                                                          tenant: Tenant, db: Session) -> None:
    """Chunked or declared, authenticated or not: 413 with the JSON ``detail``."""
    secret = tokens.create_token(db, tenant.ctx(), name="ci", role=Role.OPERATOR).secret
    db.commit()
    for auth in ({}, {"Authorization": f"Bearer {secret}"}):
        resp = anon.post("/api/v1/goals", content=_big_chunks(),
                         headers={"Content-Type": "application/json", **auth})
        assert resp.status_code == 413, resp.text[:200]
        assert "too large" in resp.json()["detail"]


def test_signed_in_pages_and_api_answers_are_not_stored(
    anon: TestClient, tenant: Tenant, db: Session,
) -> None:
    secret = tokens.create_token(db, tenant.ctx(), name="ci", role=Role.OWNER).secret
    db.commit()
    api = anon.get("/api/v1/goals", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 200
    _assert_secured(api)

    login(anon, tenant.owner)
    home = anon.get("/")
    assert home.status_code == 200
    _assert_secured(home)
    settings = anon.get("/settings")
    shown_once = anon.post("/settings/tokens", data={
        "token_name": "deploy", "role": "operator", "csrf_token": csrf_from(settings.text)})
    assert shown_once.status_code == 200 and "w4_" in shown_once.text
    _assert_secured(shown_once)


def test_static_files_may_be_cached_and_still_carry_the_headers(anon: TestClient) -> None:
    page = anon.get("/login")
    href = page.text.split('href="/static/', 1)[1].split('"', 1)[0]
    resp = anon.get(f"/static/{href}")
    assert resp.status_code == 200
    _assert_secured(resp, cache=True)
    assert "no-store" not in resp.headers.get("Cache-Control", "")

"""Property-based fuzzing of the JSON API from its own OpenAPI schema (schemathesis):
whatever a client with a valid owner token sends, the answer is never a 5xx."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_planned_goal, plan_of
from web4os.accounts.models import Role
from web4os.accounts.tokens import create_token
from web4os.app import create_app
from web4os.tenancy import bind_account
from web4os.workers.embedded import EmbeddedRunner

# The schema also lists the HTML pages; those are covered by test_forms.py.
schema = schemathesis.openapi.from_asgi(
    "/api/v1/openapi.json", create_app(start_worker=False)).include(path_regex=r"^/api/v1/")


@pytest.fixture
def api_token(db: Session, tenant: Tenant, runner: EmbeddedRunner) -> str:
    """An owner token on an account that has a planned goal (low ids exist to be hit)."""
    make_planned_goal(db, tenant, plan_of(("a", "researcher", []), ("b", "writer", ["a"]),
                                          ("c", "analyst", ["a", "b"])))
    bind_account(db, tenant.id)
    secret = create_token(db, tenant.ctx(), name="fuzz", role=Role.OWNER).secret
    db.commit()
    return secret


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=bool(os.environ.get("CI")),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_api_never_answers_5xx(case: schemathesis.Case, api_token: str) -> None:  # type: ignore[type-arg]
    response = case.call(headers={"Authorization": f"Bearer {api_token}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:500]}")
    if response.status_code >= 400:
        assert "detail" in response.json(), "API errors are JSON {'detail': …}"

"""Property-based fuzzing of the JSON API from its own OpenAPI schema (schemathesis):
whatever a client sends with a valid token of any role (owner, operator, viewer; an
admin token on ``/api/v1/admin``), the answer is never a 5xx."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from tests.factories import PASSWORD, Tenant, make_planned_goal, plan_of
from web4os.accounts import service as accounts
from web4os.accounts.models import Role
from web4os.accounts.tokens import create_token
from web4os.admin.tokens import create_admin_token
from web4os.app import create_app
from web4os.tenancy import bind_account
from web4os.workers.embedded import EmbeddedRunner

# The schema also lists the HTML pages; those are covered by test_forms.py.
schema = schemathesis.openapi.from_asgi(
    "/api/v1/openapi.json", create_app(start_worker=False)).include(path_regex=r"^/api/v1/")


ROLES = (Role.OWNER, Role.OPERATOR, Role.VIEWER)


@pytest.fixture
def api_tokens(db: Session, tenant: Tenant, runner: EmbeddedRunner) -> dict[str, str]:
    """A token per role on an account that has a planned goal (low ids exist to be hit),
    and a platform admin's token."""
    make_planned_goal(db, tenant, plan_of(("a", "researcher", []), ("b", "writer", ["a"]),
                                          ("c", "analyst", ["a", "b"])))
    bind_account(db, tenant.id)
    users = {Role.OWNER: tenant.owner, Role.OPERATOR: tenant.operator, Role.VIEWER: tenant.viewer}
    secrets = {role.value: create_token(db, tenant.ctx(users[role], role), name=f"fuzz {role}",
                                        role=role).secret for role in ROLES}
    admin = accounts.ensure_admin(db, "fuzz-admin@example.com", PASSWORD)
    secrets["admin"] = create_admin_token(db, admin, name="fuzz").secret
    db.commit()
    return secrets


@schema.parametrize()
@schema.given(role=st.sampled_from([r.value for r in ROLES]))
@settings(max_examples=20, deadline=None, derandomize=bool(os.environ.get("CI")),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_api_never_answers_5xx(case: schemathesis.Case, role: str,  # type: ignore[type-arg]
                               api_tokens: dict[str, str]) -> None:
    admin_route = case.path.startswith("/api/v1/admin/")
    secret = api_tokens["admin" if admin_route else role]
    response = case.call(headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} as {'admin' if admin_route else role} → "
        f"{response.status_code}: {response.text[:500]}")
    if response.status_code >= 400:
        assert "detail" in response.json(), "API errors are JSON {'detail': …}"

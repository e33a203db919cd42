"""Every action a page offers has a ``/api/v1`` counterpart with the same role rule.

The page actions are read from the app (every non-GET route outside ``/api/``), so a
page action added later fails here until it is mapped to its API route in ``PARITY``,
or listed in ``PAGE_ONLY`` with the reason it has no API. The role rule of each side is
read from its dependencies (``ReaderCtx``/``ApiReader`` … ``AdminDep``/``ApiAdmin``).
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from web4os.accounts.deps import AdminDep, OperatorCtx, OwnerCtx, ReaderCtx, RevokeAccessCtx
from web4os.api.accounts import ApiRevoke
from web4os.api.deps import ApiAdmin, ApiOperator, ApiOwner, ApiReader
from web4os.app import create_app

APP = create_app(start_worker=False)
Action = tuple[str, str]  # (method, path)

# Page action → its API counterparts (a page route that takes an ``{action}`` maps to
# one API route per action).
PARITY: dict[Action, list[Action]] = {
    ("POST", "/settings/account"): [("PATCH", "/api/v1/account")],
    ("POST", "/settings/tokens"): [("POST", "/api/v1/tokens")],
    ("POST", "/settings/tokens/{token_id}/revoke"): [("DELETE", "/api/v1/tokens/{token_id}")],
    ("POST", "/settings/invites"): [("POST", "/api/v1/invites")],
    ("POST", "/settings/invites/{invite_id}/revoke"):
        [("DELETE", "/api/v1/invites/{invite_id}")],
    ("POST", "/settings/members/{membership_id}/role"):
        [("PUT", "/api/v1/members/{membership_id}/role")],
    ("POST", "/settings/members/{membership_id}/remove"):
        [("DELETE", "/api/v1/members/{membership_id}")],
    ("POST", "/settings/data/retention"): [("PUT", "/api/v1/account/retention")],
    ("POST", "/settings/data/delete"): [("POST", "/api/v1/account/deletion")],
    ("POST", "/settings/data/delete/cancel"): [("DELETE", "/api/v1/account/deletion")],
    ("POST", "/admin/accounts"): [("POST", "/api/v1/admin/accounts")],
    ("POST", "/admin/accounts/{account_id}/credits"):
        [("POST", "/api/v1/admin/accounts/{account_id}/credits")],
    ("POST", "/admin/accounts/{account_id}/share"):
        [("PUT", "/api/v1/admin/accounts/{account_id}/share")],
    ("POST", "/admin/accounts/{account_id}/invite"):
        [("POST", "/api/v1/admin/accounts/{account_id}/owner-invites")],
    ("POST", "/admin/accounts/{account_id}/suspend"):
        [("POST", "/api/v1/admin/accounts/{account_id}/suspend")],
    ("POST", "/admin/accounts/{account_id}/reactivate"):
        [("POST", "/api/v1/admin/accounts/{account_id}/reactivate")],
    ("POST", "/admin/accounts/{account_id}/delete"):
        [("DELETE", "/api/v1/admin/accounts/{account_id}")],
    ("POST", "/admin/tokens"): [("POST", "/api/v1/admin/tokens")],
    ("POST", "/admin/tokens/{token_id}/revoke"): [("DELETE", "/api/v1/admin/tokens/{token_id}")],
    ("POST", "/goals"): [("POST", "/api/v1/goals")],
    ("POST", "/tasks/{task_id}/{action}"): [
        ("POST", f"/api/v1/tasks/{{task_id}}/{a}")
        for a in ("approve", "reject", "retry", "reassign", "edit", "cancel")],
    ("POST", "/tasks/approve-selected"): [("POST", "/api/v1/tasks/approve-selected")],
    ("POST", "/goals/{goal_id}/cancel"): [("POST", "/api/v1/goals/{goal_id}/cancel")],
    ("POST", "/goals/{goal_id}/urgent"): [("POST", "/api/v1/goals/{goal_id}/urgent")],
    ("POST", "/goals/{goal_id}/not-urgent"): [("POST", "/api/v1/goals/{goal_id}/urgent")],
    ("POST", "/goals/{goal_id}/plan-again"): [("POST", "/api/v1/goals/{goal_id}/plan-again")],
    ("POST", "/goals/{goal_id}/edit"): [("POST", "/api/v1/goals/{goal_id}/edit")],
    ("POST", "/goals/{goal_id}/simple-plan"): [("POST", "/api/v1/goals/{goal_id}/simple-plan")],
    ("POST", "/goals/{goal_id}/cap"): [("PUT", "/api/v1/goals/{goal_id}/credit-cap")],
    ("POST", "/goals/{goal_id}/files"): [("POST", "/api/v1/goals/{goal_id}/files")],
    ("POST", "/usage/agents/{agent_id}/cap"): [("PUT", "/api/v1/agents/{agent_id}/credit-cap")],
    ("POST", "/usage/budget"): [("PUT", "/api/v1/budgets")],
    ("POST", "/usage/agents/{agent_id}/budget"):
        [("PUT", "/api/v1/agents/{agent_id}/monthly-budget")],
    ("POST", "/credits/request"): [("POST", "/api/v1/credits/requests")],
    ("POST", "/agents"): [("POST", "/api/v1/agents")],
    ("POST", "/agents/{agent_id}"): [("PATCH", "/api/v1/agents/{agent_id}")],
    ("POST", "/agents/{agent_id}/{action}"): [("POST", "/api/v1/agents/{agent_id}/enable"),
                                              ("POST", "/api/v1/agents/{agent_id}/disable")],
    ("POST", "/notes"): [("POST", "/api/v1/notes"), ("PUT", "/api/v1/notes/{note_id}")],
    ("POST", "/notes/{note_id}/delete"): [("DELETE", "/api/v1/notes/{note_id}")],
    ("POST", "/knowledge"): [("POST", "/api/v1/knowledge")],
    ("POST", "/files/{file_id}/delete"): [("DELETE", "/api/v1/files/{file_id}")],
    ("POST", "/tools/servers"): [("POST", "/api/v1/mcp/servers")],
    ("POST", "/tools/servers/{server_id}/refresh"):
        [("POST", "/api/v1/mcp/servers/{server_id}/refresh")],
    ("POST", "/tools/servers/{server_id}/delete"): [("DELETE", "/api/v1/mcp/servers/{server_id}")],
    ("POST", "/tools/web-fetch"): [("PUT", "/api/v1/tools/web-fetch")],
    ("POST", "/tools/agents/{agent_id}"): [("PUT", "/api/v1/agents/{agent_id}/tools/{tool_id}")],
    ("POST", "/tasks/{task_id}/tool-calls/{call_id}/{decision}"):
        [("POST", "/api/v1/tasks/{task_id}/tool-calls/{call_id}/{decision}")],
    ("POST", "/settings/webhooks"): [("POST", "/api/v1/webhooks")],
    ("POST", "/settings/webhooks/{endpoint_id}"): [("PATCH", "/api/v1/webhooks/{endpoint_id}")],
    ("POST", "/settings/webhooks/{endpoint_id}/rotate"):
        [("POST", "/api/v1/webhooks/{endpoint_id}/rotate-secret")],
    ("POST", "/settings/webhooks/{endpoint_id}/test"):
        [("POST", "/api/v1/webhooks/{endpoint_id}/test")],
    ("POST", "/settings/webhooks/{endpoint_id}/delete"):
        [("DELETE", "/api/v1/webhooks/{endpoint_id}")],
    ("POST", "/settings/webhooks/{endpoint_id}/deliveries/{delivery_id}/retry"):
        [("POST", "/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/retry")],
    ("POST", "/routines"): [("POST", "/api/v1/routines")],
    ("POST", "/routines/{routine_id}"): [("PUT", "/api/v1/routines/{routine_id}")],
    ("POST", "/routines/{routine_id}/pause"): [("POST", "/api/v1/routines/{routine_id}/pause")],
    ("POST", "/routines/{routine_id}/resume"):
        [("POST", "/api/v1/routines/{routine_id}/resume")],
    ("POST", "/routines/{routine_id}/run"): [("POST", "/api/v1/routines/{routine_id}/run")],
    ("POST", "/routines/{routine_id}/archive"): [("DELETE", "/api/v1/routines/{routine_id}")],
    ("POST", "/playbook/preview"): [("POST", "/api/v1/playbooks/preview")],
    ("POST", "/playbook/import"): [("POST", "/api/v1/playbooks/import")],
    ("POST", "/templates"): [("POST", "/api/v1/templates")],
    ("POST", "/templates/{template_id}"): [("PUT", "/api/v1/templates/{template_id}")],
    ("POST", "/templates/{template_id}/delete"): [("DELETE", "/api/v1/templates/{template_id}")],
    ("POST", "/templates/{template_id}/start"):
        [("POST", "/api/v1/templates/{template_id}/goals")],
    ("POST", "/notifications/read-all"): [("POST", "/api/v1/notifications/read-all")],
    ("POST", "/notifications/{notification_id}/read"):
        [("POST", "/api/v1/notifications/{notification_id}/read")],
    ("POST", "/notifications/settings"): [("PUT", "/api/v1/notifications/settings")],
    ("POST", "/notifications/settings/threshold"):
        [("PUT", "/api/v1/notifications/low-credit-threshold")],
}

# Page actions with no API counterpart, each with why.
PAGE_ONLY: dict[Action, str] = {
    ("POST", "/login"): "starts a browser session; API clients send a token instead",
    ("POST", "/logout"): "ends a browser session; a token is revoked instead",
    ("POST", "/signup"): "a person signs up in a browser (password, e-mail confirmation)",
    ("POST", "/switch-account"): "picks the account a browser session looks at; a token "
                                 "belongs to one account",
    ("POST", "/invite/{token}"): "a person accepts an invite in a browser, with a password",
    ("POST", "/verify-email/resend"): "mails the signed-in person a link; a token has no "
                                      "inbox of its own",
}

# The role rules: each page dependency and its API twin name the same rule.
PAGE_RULES = {ReaderCtx: "viewer", OperatorCtx: "operator", OwnerCtx: "owner",
              RevokeAccessCtx: "owner, suspended too", AdminDep: "platform admin"}
API_RULES = {ApiReader: "viewer", ApiOperator: "operator", ApiOwner: "owner",
             ApiRevoke: "owner, suspended too", ApiAdmin: "platform admin"}


def _calls(rules: dict[Any, str]) -> dict[Any, str]:
    return {typing.get_args(alias)[1].dependency: rule for alias, rule in rules.items()}


PAGE_CALLS, API_CALLS = _calls(PAGE_RULES), _calls(API_RULES)


def _routes() -> dict[Action, APIRoute]:
    found: dict[Action, APIRoute] = {}
    for rc in iter_route_contexts(APP.routes):
        route, path = rc.original_route, rc.path_format or rc.path
        if isinstance(route, APIRoute) and path is not None:
            for method in (route.methods or set()) - {"HEAD"}:
                found[(method, path)] = route
    return found


ROUTES = _routes()
PAGE_ACTIONS = sorted(a for a in ROUTES if a[0] != "GET" and not a[1].startswith("/api/"))


def _walk(dependant: Dependant) -> Iterator[Any]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _walk(dep)


def rule_of(route: APIRoute, calls: dict[Any, str]) -> set[str]:
    return {calls[c] for c in _walk(route.dependant) if c in calls}


def test_the_walk_finds_page_actions() -> None:
    assert ("POST", "/goals") in PAGE_ACTIONS and ("POST", "/agents") in PAGE_ACTIONS
    assert len(PAGE_ACTIONS) >= 60


@pytest.mark.parametrize("action", PAGE_ACTIONS, ids=[f"{m} {p}" for m, p in PAGE_ACTIONS])
def test_every_page_action_has_an_api_counterpart(action: Action) -> None:
    if action in PAGE_ONLY:
        return
    assert action in PARITY, (
        f"{action[0]} {action[1]} is a page action without an API counterpart: add its "
        "/api/v1 route (same service, same role) and map it in PARITY "
        "(tests/api/test_ui_api_parity.py), or list it in PAGE_ONLY with the reason.")
    page_rule = rule_of(ROUTES[action], PAGE_CALLS)
    assert len(page_rule) == 1, f"{action}: the page's role rule is unclear ({page_rule})"
    for counterpart in PARITY[action]:
        assert counterpart in ROUTES, f"{action} → {counterpart}: no such API route"
        api_rule = rule_of(ROUTES[counterpart], API_CALLS)
        assert api_rule == page_rule, (
            f"{action} needs {page_rule}, its API {counterpart} needs {api_rule}")


def test_the_tables_name_only_routes_that_exist() -> None:
    stale = sorted(set(PARITY) - set(ROUTES)) + sorted(set(PAGE_ONLY) - set(ROUTES))
    assert not stale, f"listed page actions the app no longer has: {stale}"
    assert not set(PARITY) & set(PAGE_ONLY)

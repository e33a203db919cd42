"""A path that names two things (a goal and its card) must name a pair that belongs
together: the second id is checked against the first, not only against the account.

The routes are read from the app, so a new route with two ids fails here until it is
listed in ``PAIRS`` with how to build a matching and a mismatched pair.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant, login, make_planned_goal, make_tenant, plan_of
from web4os.accounts import tokens
from web4os.accounts.models import Role
from web4os.app import create_app
from web4os.goals.models import Goal, Task
from web4os.webhooks.models import WebhookDelivery, WebhookEndpoint

ID = re.compile(r"\{(\w+_id)\}")


def _routes(routes: list[Any]) -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every endpoint, through FastAPI's lazily included routers too."""
    for r in routes:
        if hasattr(r, "effective_route_contexts"):
            yield from ((c.path, set(c.methods or ())) for c in r.effective_route_contexts())
        elif isinstance(r, APIRoute):
            yield r.path, set(r.methods or ())


TWO_IDS = sorted({(path, method) for path, methods in _routes(create_app(start_worker=False).routes)
                  for method in methods if len(ID.findall(path)) >= 2})


@dataclass
class World:
    card: Task  # of ``goal``
    goal: Goal
    own_other_goal: Goal
    foreign_goal: Goal  # another account's
    endpoint: WebhookEndpoint  # with ``delivery``
    delivery: WebhookDelivery
    own_other_endpoint: WebhookEndpoint
    foreign_endpoint: WebhookEndpoint
    api_headers: dict[str, str]  # an owner token of the account, for /api/ paths


Ids = dict[str, int]
PAIRS: dict[str, Callable[[World], tuple[Ids, list[Ids]]]] = {
    "/goals/{goal_id}/tasks/{task_id}": lambda w: (
        {"goal_id": w.goal.id, "task_id": w.card.id},
        [{"goal_id": g, "task_id": w.card.id}
         for g in (w.own_other_goal.id, w.foreign_goal.id, 2_000_000_000)]),
    "/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}": lambda w: (
        {"endpoint_id": w.endpoint.id, "delivery_id": w.delivery.id},
        [{"endpoint_id": e, "delivery_id": w.delivery.id}
         for e in (w.own_other_endpoint.id, w.foreign_endpoint.id, 2_000_000_000)]),
}


# Routes whose pair needs a world of its own (a card's tool calls need an MCP server), or
# whose two ids name any two things of the account (no pair to mismatch); with the test
# that covers each.
CHECKED_ELSEWHERE = {
    "/tasks/{task_id}/tool-calls/{call_id}/{decision}":
        "tests/tools/test_ask_first.py::test_a_call_of_another_card_is_not_found",
    "/api/v1/tasks/{task_id}/tool-calls/{call_id}/{decision}":
        "tests/tools/test_ask_first.py::test_a_call_of_another_card_is_not_found",
    "/settings/webhooks/{endpoint_id}/deliveries/{delivery_id}/retry":
        "tests/webhooks/test_api_and_pages.py::test_a_delivery_under_another_endpoint_is_not_found",
    "/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/retry":
        "tests/webhooks/test_api_and_pages.py::test_a_delivery_under_another_endpoint_is_not_found",
    "/api/v1/agents/{agent_id}/tools/{tool_id}":
        "any agent with any tool of the account; other accounts' ids: the isolation walk",
}


def _pairs_for(path: str) -> Callable[[World], tuple[Ids, list[Ids]]]:
    for prefix, make in PAIRS.items():
        if path == prefix or path.startswith(prefix + "/"):
            return make
    raise AssertionError(f"{path} has two ids: add it to PAIRS or CHECKED_ELSEWHERE")


def test_every_route_with_two_ids_is_covered() -> None:
    assert TWO_IDS, "the app's routes were not found"
    for path, _method in TWO_IDS:
        if path not in CHECKED_ELSEWHERE:
            _pairs_for(path)


def _endpoint(db: Session, account_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(account_id=account_id, url="https://hooks.example.com/in",
                               events=["goal.completed"], secret_encrypted="", secret_hint="")
    db.add(endpoint)
    db.flush()
    return endpoint


@pytest.fixture
def world(db: Session, tenant: Tenant) -> World:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", [])))
    other = make_planned_goal(db, tenant, plan_of(("b", "writer", [])), title="Other goal")
    elsewhere = make_tenant(db, "Elsewhere")
    foreign = make_planned_goal(db, elsewhere, plan_of(("c", "writer", [])))
    endpoint, other_endpoint = _endpoint(db, tenant.id), _endpoint(db, tenant.id)
    delivery = WebhookDelivery(account_id=tenant.id, endpoint_id=endpoint.id, message_id="msg_pair",
                               event="goal.completed", payload={"title": goal.title})
    db.add(delivery)
    token = tokens.create_token(db, tenant.ctx(), name="pairs", role=Role.VIEWER).secret
    headers = {"Authorization": f"Bearer {token}"}
    foreign_endpoint = _endpoint(db, elsewhere.id)
    db.commit()
    card = db.scalars(select(Task).where(Task.goal_id == goal.id)).unique().one()
    return World(card, goal, other, foreign, endpoint, delivery, other_endpoint, foreign_endpoint,
                 headers)


@pytest.mark.parametrize(("path", "method"),
                         [(p, m) for p, m in TWO_IDS if p not in CHECKED_ELSEWHERE])
def test_a_mismatched_pair_of_ids_is_not_found(client: TestClient, tenant: Tenant,
                                               world: World, path: str, method: str) -> None:
    assert method == "GET", "a POST route with two ids needs a CSRF token here"
    login(client, tenant.owner)
    right, wrong = _pairs_for(path)(world)

    def url(ids: Ids) -> str:
        return ID.sub(lambda m: str(ids[m.group(1)]), path)

    headers = world.api_headers if path.startswith("/api/") else {}
    assert client.request(method, url(right), headers=headers,
                          follow_redirects=False).status_code == 200
    for ids in wrong:
        resp = client.request(method, url(ids), headers=headers, follow_redirects=False)
        assert resp.status_code == 404, (url(ids), resp.status_code)
        assert world.card.title not in resp.text

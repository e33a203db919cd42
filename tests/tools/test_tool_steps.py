"""A card's specialist calls MCP tools through the structured action step: the offline
model uses an enabled tool, the call is recorded before it is sent and its result after,
priced, shown on the card, and put into the specialist's prompt."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.agents.conftest import wait_for_goal
from tests.conftest import TEST_DB_URL
from tests.factories import Tenant, login, make_goal, roster
from tests.support.fake_openai import FakeOpenAI
from tests.support.mcp_server import RunningServer
from tests.tools.conftest import TOKEN
from web4os.config import get_settings
from web4os.db import session_factory
from web4os.goals.models import GoalStatus, Task, TaskEvent
from web4os.tools import client as mcp_client
from web4os.tools import service
from web4os.tools.models import CallStatus, ToolCall
from web4os.workers.embedded import EmbeddedRunner

pytestmark = pytest.mark.usefixtures("allow_loopback")


def _enable(db: Session, tenant: Tenant, server: RunningServer, *agents: str) -> None:
    row = service.add_server(db, tenant.id, name="bakery", url=server.url, credential=TOKEN)
    service.refresh_tools(db, tenant.id, row.id)
    team = roster(db, tenant)
    for slug in agents:
        for tool in row.tools:
            if tool.name != "unmarked":
                service.set_policy(db, tenant.id, team[slug].id, tool.id, "default")
    db.commit()


def test_the_offline_model_runs_an_enabled_tool_on_each_card(
        client: TestClient, runner: EmbeddedRunner, db: Session, tenant: Tenant,
        mcp_server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_TOOL_RUN_CREDITS", '{"bakery.stock_level": 7}')
    get_settings.cache_clear()
    specialists = [a.slug for a in roster(db, tenant).values() if not a.is_ceo]
    _enable(db, tenant, mcp_server, *specialists)
    started_while_sending: set[int] = set()  # calls recorded as started when one is sent
    real_call = mcp_client.call_tool

    def spy(target: mcp_client.Target, name: str, arguments: dict[str, object]) -> object:
        with session_factory(TEST_DB_URL)() as other:
            started_while_sending.update(other.scalars(
                select(ToolCall.id).where(ToolCall.tool_name == name,
                                          ToolCall.status == CallStatus.STARTED)))
        return real_call(target, name, arguments)

    monkeypatch.setattr(mcp_client, "call_tool", spy)
    orders_before = len(mcp_server.orders())
    goal = make_goal(db, tenant, "Bake for the weekend market")
    db.commit()
    runner.submit("plan_goal", {"goal_id": goal.id, "account_id": tenant.id})
    goal = wait_for_goal(db, runner, goal.id)
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason

    tasks = list(db.scalars(select(Task).where(Task.goal_id == goal.id)))
    rows = list(db.scalars(select(ToolCall).order_by(ToolCall.id)))
    assert len(rows) == len(tasks) and started_while_sending == {r.id for r in rows}
    assert {r.tool_name for r in rows} == {"stock_level"}  # the ask-first tool is not used
    assert all(r.status == CallStatus.DONE and "units in stock" in r.result for r in rows)
    assert len({r.idempotency_key for r in rows}) == len(rows)
    assert len(mcp_server.orders()) == orders_before
    events = list(db.scalars(select(TaskEvent).where(TaskEvent.kind == "tool_call")))
    assert len(events) == len(rows) and all(e.data["credits"] == 7 for e in events)
    assert all(e.data["args"] == {"item": e_task.title} for e, e_task in
               zip(sorted(events, key=lambda e: e.task_id or 0),
                   sorted(tasks, key=lambda t: t.id), strict=True))
    assert goal.credits_spent >= 7 * len(rows)

    login(client, tenant.viewer)
    card = tasks[0]
    page = client.get(f"/goals/{goal.id}/tasks/{card.id}")
    assert "tool call" in page.text and "bakery.stock_level" in page.text
    assert "units in stock" in page.text


def test_a_tool_turned_off_is_not_offered(
        runner: EmbeddedRunner, db: Session, tenant: Tenant, mcp_server: RunningServer) -> None:
    _enable(db, tenant, mcp_server)  # listed, enabled for nobody
    goal = make_goal(db, tenant, "Plan a tasting")
    db.commit()
    runner.submit("plan_goal", {"goal_id": goal.id, "account_id": tenant.id})
    goal = wait_for_goal(db, runner, goal.id)
    assert goal.status == GoalStatus.COMPLETED
    assert db.scalars(select(ToolCall)).first() is None


def test_an_endpoint_with_function_calling_gets_the_tools_as_functions(
        endpoint: FakeOpenAI, runner: EmbeddedRunner, db: Session, tenant: Tenant,
        mcp_server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_MODEL_TOOL_CALLS", "true")
    get_settings.cache_clear()
    _enable(db, tenant, mcp_server, "researcher")
    goal = make_goal(db, tenant, "Check the flour")
    db.commit()
    fake = endpoint
    fake.reply_json({"rationale": "One card.", "tasks": [{
        "key": "stock", "title": "Flour stock", "agent": "researcher",
        "instructions": "How much flour?", "depends_on": [], "estimated_credits": 3}]})
    fake.tool_call("bakery__stock_level", {"item": "flour", "invented": "x"})
    fake.reply_json({"deliverable": "## Flour\n\nWe have 12 units.", "note": "Checked stock."})
    fake.reply_json({"verdict": "accept", "feedback": ""})
    fake.reply_json({"summary": "Done."})
    runner.submit("plan_goal", {"goal_id": goal.id, "account_id": tenant.id})
    goal = wait_for_goal(db, runner, goal.id)
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    fake.assert_all_used()
    first, second = fake.chat_requests[1:3]
    offered = {t["function"]["name"] for t in first["tools"]}
    assert {"bakery__stock_level", "bakery__place_order"} <= offered
    [answer] = [m for m in second["messages"] if m["role"] == "tool"]
    assert answer["content"] == "flour: 12 units in stock"
    [row] = db.scalars(select(ToolCall))
    assert row.arguments == {"item": "flour"} and row.status == CallStatus.DONE


def test_a_tool_turned_off_between_offer_and_call_is_not_run(
        runner: EmbeddedRunner, db: Session, tenant: Tenant, mcp_server: RunningServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from web4os.goals import tool_steps

    _enable(db, tenant, mcp_server, "researcher")
    real_offers = tool_steps._offers

    def offers_then_off(account_id: object, agent_id: int) -> object:
        offered = real_offers(account_id, agent_id)  # type: ignore[arg-type]
        with session_factory(TEST_DB_URL)() as s:
            for item in service.enabled_tools(s, tenant.id, agent_id):
                service.set_policy(s, tenant.id, agent_id, item.tool.id, "off")
            s.commit()
        return offered

    monkeypatch.setattr(tool_steps, "_offers", offers_then_off)
    goal = make_goal(db, tenant, "Check the flour")
    db.commit()
    runner.submit("plan_goal", {"goal_id": goal.id, "account_id": tenant.id})
    goal = wait_for_goal(db, runner, goal.id)
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    assert db.scalars(select(ToolCall)).first() is None

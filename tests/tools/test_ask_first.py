"""Ask first, against a real MCP server: the read runs, the side effect waits for the
operator on the card, approval (with edited arguments) runs it exactly once, and a call
cut off by a dead worker goes back to the operator instead of running again."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.agents.conftest import wait_for_goal
from tests.factories import (
    Tenant,
    csrf_from,
    login,
    make_goal,
    make_planned_goal,
    make_tenant,
    plan_of,
    roster,
)
from tests.support.fake_openai import FakeOpenAI
from tests.support.mcp_server import RunningServer
from tests.tools.conftest import TOKEN, bearer
from web4os.accounts.models import Role
from web4os.config import get_settings
from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus
from web4os.tools import service
from web4os.tools.models import CallStatus, ToolCall
from web4os.workers.embedded import EmbeddedRunner

pytestmark = pytest.mark.usefixtures("allow_loopback")

ORDER = {"tool": "bakery.place_order", "arguments": {"item": "butter", "quantity": 5},
         "reason": "We are out of butter."}


def _stopped_card(fake: FakeOpenAI, runner: EmbeddedRunner, db: Session, tenant: Tenant,
                  server: RunningServer) -> tuple[Goal, Task]:
    """A goal whose researcher reads the stock, then asks to place an order."""
    row = service.add_server(db, tenant.id, name="bakery", url=server.url, credential=TOKEN)
    service.refresh_tools(db, tenant.id, row.id)
    researcher = roster(db, tenant)["researcher"].id
    for tool in row.tools:
        service.set_policy(db, tenant.id, researcher, tool.id, "default")
    goal = make_goal(db, tenant, "Keep the butter stocked")
    db.commit()
    fake.reply_json({"rationale": "One card.", "tasks": [{
        "key": "stock", "title": "Butter stock", "agent": "researcher",
        "instructions": "Check the butter and order more if needed.", "depends_on": [],
        "estimated_credits": 3}]})
    fake.reply_json({"tool": "bakery.stock_level", "arguments": {"item": "butter"},
                     "reason": "See what is left."})
    fake.reply_json(ORDER)
    runner.submit("plan_goal", {"goal_id": goal.id, "account_id": tenant.id})
    runner.wait_idle(timeout=30)
    db.rollback()
    [task] = db.scalars(select(Task).where(Task.goal_id == goal.id))
    return goal, task


def _finish_answers(fake: FakeOpenAI) -> None:
    fake.reply_json({"tool": "none", "arguments": {}, "reason": "Done."})
    fake.reply_json({"deliverable": "## Butter\n\nOrdered more butter.", "note": "Ordered."})
    fake.reply_json({"verdict": "accept", "feedback": ""})
    fake.reply_json({"summary": "Done."})


def test_the_side_effect_waits_for_approval_and_runs_once(
        endpoint: FakeOpenAI, runner: EmbeddedRunner, client: TestClient, db: Session,
        tenant: Tenant, mcp_server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    before = len(mcp_server.orders())
    operator, viewer = bearer(db, tenant, Role.OPERATOR), bearer(db, tenant, Role.VIEWER)
    other = make_tenant(db, "Rival")
    db.commit()
    rival = bearer(db, other, Role.OWNER)
    monkeypatch.setenv("WEB4OS_TOOL_RUN_CREDITS", '{"bakery.stock_level": 50}')
    get_settings.cache_clear()
    goal, task = _stopped_card(endpoint, runner, db, tenant, mcp_server)
    assert task.status == TaskStatus.BLOCKED
    assert task.actual_credits >= 50  # the read before the stop is charged with the attempt
    assert "bakery.place_order" in task.status_reason and "out of butter" in task.status_reason
    assert len(mcp_server.orders()) == before  # nothing ordered yet
    calls = client.get(f"/api/v1/tasks/{task.id}/tool-calls", headers=viewer).json()
    assert [(c["tool"], c["status"]) for c in calls] == [("stock_level", "done"),
                                                         ("place_order", "awaiting")]
    assert "0 units" in calls[0]["result"]
    waiting = calls[1]["id"]

    login(client, tenant.viewer)
    page = client.get(f"/goals/{goal.id}/tasks/{task.id}")
    assert "waits for your approval" in page.text and "out of butter" in page.text
    assert "Approve and run" not in page.text
    assert client.get("/inbox").text.count("Butter stock") >= 1
    client.cookies.clear()
    login(client, tenant.operator)
    assert "Approve and run" in client.get(f"/goals/{goal.id}/tasks/{task.id}").text

    url = f"/api/v1/tasks/{task.id}/tool-calls/{waiting}/approve"
    edited = {"arguments": {"item": "butter", "quantity": 6}}
    assert client.post(url, headers=viewer, json=edited).status_code == 403
    assert client.post(url, headers=rival, json=edited).status_code == 404
    assert client.get(f"/api/v1/tasks/{task.id}/tool-calls", headers=rival).status_code == 404
    _finish_answers(endpoint)
    resp = client.post(url, headers=operator, json=edited)
    assert resp.status_code == 200 and resp.json()["status"] == "approved"
    goal = wait_for_goal(db, runner, goal.id)
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    endpoint.assert_all_used()
    assert mcp_server.orders()[before:] == ["order butter 6"]  # once, as edited
    assert client.post(url, headers=operator, json=edited).status_code == 409
    order = db.get(ToolCall, waiting)
    assert order is not None and order.status == CallStatus.DONE
    assert order.result == "ordered 6 x butter" and order.decided_by.startswith("token:")
    deliverable_prompt = endpoint.chat_requests[-3]["messages"][-1]["content"]
    assert "TOOL RESULTS" in deliverable_prompt and "ordered 6 x butter" in deliverable_prompt


def test_a_call_cut_off_by_a_dead_worker_goes_back_to_the_operator(
        endpoint: FakeOpenAI, runner: EmbeddedRunner, client: TestClient, db: Session,
        tenant: Tenant, mcp_server: RunningServer) -> None:
    before = len(mcp_server.orders())
    operator = bearer(db, tenant, Role.OPERATOR)
    goal, task = _stopped_card(endpoint, runner, db, tenant, mcp_server)
    order = db.scalars(select(ToolCall).where(ToolCall.tool_name == "place_order")).one()
    # As a worker that died after recording the approved call as started, before its result:
    db.execute(update(ToolCall).where(ToolCall.id == order.id)
               .values(status=CallStatus.STARTED))
    db.commit()
    retried = client.post(f"/api/v1/tasks/{task.id}/retry", headers=operator)
    assert retried.status_code == 200, retried.text  # as the sweeper would requeue it
    runner.wait_idle(timeout=30)
    db.rollback()
    db.refresh(task)
    assert task.status == TaskStatus.BLOCKED and "may or may not have run" in task.status_reason
    assert len(mcp_server.orders()) == before  # never silently repeated
    db.refresh(order)
    assert order.status == CallStatus.IN_DOUBT
    _finish_answers(endpoint)
    resp = client.post(f"/api/v1/tasks/{task.id}/tool-calls/{order.id}/run-again",
                       headers=operator, json={"note": "Checked the supplier: not there."})
    assert resp.status_code == 200, resp.text
    goal = wait_for_goal(db, runner, goal.id)
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    assert mcp_server.orders()[before:] == ["order butter 5"]


def test_deny_and_mark_done_answer_the_agent_without_calling(
        endpoint: FakeOpenAI, runner: EmbeddedRunner, client: TestClient, db: Session,
        tenant: Tenant, mcp_server: RunningServer) -> None:
    before = len(mcp_server.orders())
    operator = bearer(db, tenant, Role.OPERATOR)
    goal, task = _stopped_card(endpoint, runner, db, tenant, mcp_server)
    order = db.scalars(select(ToolCall).where(ToolCall.tool_name == "place_order")).one()
    assert client.post(f"/api/v1/tasks/{task.id}/tool-calls/{order.id}/mark-done",
                       headers=operator, json={}).status_code == 409  # not in doubt
    _finish_answers(endpoint)
    resp = client.post(f"/api/v1/tasks/{task.id}/tool-calls/{order.id}/deny",
                       headers=operator, json={"note": "We have butter in the back."})
    assert resp.status_code == 200 and resp.json()["status"] == "denied"
    goal = wait_for_goal(db, runner, goal.id)
    assert goal.status == GoalStatus.COMPLETED
    assert len(mcp_server.orders()) == before
    action_prompt = endpoint.chat_requests[-4]["messages"][-1]["content"]
    assert "the operator denied it (We have butter in the back.)" in action_prompt


def test_an_ask_first_function_call_stops_the_card_too(
        endpoint: FakeOpenAI, runner: EmbeddedRunner, client: TestClient, db: Session,
        tenant: Tenant, mcp_server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_MODEL_TOOL_CALLS", "true")
    get_settings.cache_clear()
    before = len(mcp_server.orders())
    operator = bearer(db, tenant, Role.OPERATOR)
    row = service.add_server(db, tenant.id, name="bakery", url=mcp_server.url, credential=TOKEN)
    service.refresh_tools(db, tenant.id, row.id)
    researcher = roster(db, tenant)["researcher"].id
    for tool in row.tools:
        service.set_policy(db, tenant.id, researcher, tool.id, "default")
    goal = make_goal(db, tenant, "Restock")
    db.commit()
    endpoint.reply_json({"rationale": "One card.", "tasks": [{
        "key": "order", "title": "Order butter", "agent": "researcher",
        "instructions": "Order butter.", "depends_on": [], "estimated_credits": 3}]})
    endpoint.tool_call("bakery__place_order", {"item": "butter", "quantity": 2})
    runner.submit("plan_goal", {"goal_id": goal.id, "account_id": tenant.id})
    runner.wait_idle(timeout=30)
    db.rollback()
    [task] = db.scalars(select(Task).where(Task.goal_id == goal.id))
    assert task.status == TaskStatus.BLOCKED and len(mcp_server.orders()) == before
    order = db.scalars(select(ToolCall)).one()
    assert order.status == CallStatus.AWAITING
    endpoint.reply_json({"deliverable": "## Butter\n\nOrdered.", "note": "Ordered."})
    endpoint.reply_json({"verdict": "accept", "feedback": ""})
    endpoint.reply_json({"summary": "Done."})
    assert client.post(f"/api/v1/tasks/{task.id}/tool-calls/{order.id}/approve",
                       headers=operator, json={}).status_code == 200
    goal = wait_for_goal(db, runner, goal.id)
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    assert mcp_server.orders()[before:] == ["order butter 2"]
    assert "ordered 2 x butter" in endpoint.chat_requests[-3]["messages"][-1]["content"]


def test_edited_arguments_with_hostile_text_are_refused_and_nothing_runs(
        endpoint: FakeOpenAI, runner: EmbeddedRunner, client: TestClient, db: Session,
        tenant: Tenant, mcp_server: RunningServer) -> None:
    before = len(mcp_server.orders())
    operator = bearer(db, tenant, Role.OPERATOR)
    db.commit()
    goal, task = _stopped_card(endpoint, runner, db, tenant, mcp_server)
    calls = client.get(f"/api/v1/tasks/{task.id}/tool-calls", headers=operator).json()
    waiting = calls[-1]["id"]
    url = f"/api/v1/tasks/{task.id}/tool-calls/{waiting}/approve"
    resp = client.post(url, headers=operator,
                       json={"arguments": {"item": "butter\u0000", "quantity": 6}})
    assert resp.status_code == 422 and "arguments" in resp.text and "U+0000" in resp.text

    login(client, tenant.operator)
    page = client.get(f"/goals/{goal.id}/tasks/{task.id}")
    resp = client.post(f"/tasks/{task.id}/tool-calls/{waiting}/approve", data={
        "csrf_token": csrf_from(page.text), "goal_id": str(goal.id),
        "arguments": '{"item": "butter\\u202e", "quantity": 6}'})
    assert resp.status_code == 422 and "arguments" in resp.text
    db.rollback()
    assert db.get(ToolCall, waiting).status == CallStatus.AWAITING  # type: ignore[union-attr]
    assert len(mcp_server.orders()) == before


def test_a_call_of_another_card_is_not_found(
        endpoint: FakeOpenAI, runner: EmbeddedRunner, client: TestClient, db: Session,
        tenant: Tenant, mcp_server: RunningServer) -> None:
    """The card in the path must be the call's own card, on the API and on the page."""
    before = len(mcp_server.orders())
    operator = bearer(db, tenant, Role.OPERATOR)
    db.commit()
    goal, task = _stopped_card(endpoint, runner, db, tenant, mcp_server)
    waiting = client.get(f"/api/v1/tasks/{task.id}/tool-calls", headers=operator).json()[-1]["id"]
    db.rollback()  # a fresh transaction: the last one read before the runner wrote
    other = make_planned_goal(db, tenant, plan_of(("b", "writer", [])), title="Other goal")
    db.commit()
    other_card = db.scalars(select(Task).where(Task.goal_id == other.id)).unique().one()
    api = f"/api/v1/tasks/{other_card.id}/tool-calls/{waiting}/approve"
    assert client.post(api, headers=operator, json={}).status_code == 404
    login(client, tenant.operator)
    page = client.get(f"/goals/{goal.id}/tasks/{task.id}")
    resp = client.post(f"/tasks/{other_card.id}/tool-calls/{waiting}/approve",
                       data={"csrf_token": csrf_from(page.text)})
    assert resp.status_code == 404
    db.rollback()
    assert db.get(ToolCall, waiting).status == CallStatus.AWAITING  # type: ignore[union-attr]
    assert len(mcp_server.orders()) == before

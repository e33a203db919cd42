"""A run that stops for the operator (a tool call to approve) is not a try: a card that
asks twice still gets its send-back from the CEO when tries are capped at two. Counting
every run, the card would stop with "still has concerns after 3 attempts"."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.agents.conftest import wait_for_goal
from tests.factories import Tenant, login, make_goal, roster
from tests.support.fake_openai import FakeOpenAI
from tests.support.mcp_server import RunningServer
from tests.tools.conftest import TOKEN, bearer
from web4os.accounts.models import Role
from web4os.config import get_settings
from web4os.goals.models import GoalStatus, Task, TaskStatus
from web4os.goals.scheduling import may_try_again
from web4os.tools import service
from web4os.tools.models import CallStatus, ToolCall
from web4os.workers.embedded import EmbeddedRunner

pytestmark = pytest.mark.usefixtures("allow_loopback")


def _order(quantity: int) -> dict[str, object]:
    return {"tool": "bakery.place_order", "arguments": {"item": "butter", "quantity": quantity},
            "reason": "We are out of butter."}


def _approve_the_waiting_call(client: TestClient, db: Session, task: Task,
                              headers: dict[str, str]) -> None:
    db.rollback()
    waiting = db.scalars(select(ToolCall).where(ToolCall.task_id == task.id,
                                                ToolCall.status == CallStatus.AWAITING)).one()
    resp = client.post(f"/api/v1/tasks/{task.id}/tool-calls/{waiting.id}/approve",
                       headers=headers, json={})
    assert resp.status_code == 200, resp.text


def test_runs_that_wait_for_the_operator_are_not_tries(
        endpoint: FakeOpenAI, runner: EmbeddedRunner, client: TestClient, db: Session,
        tenant: Tenant, mcp_server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_MAX_TASK_ATTEMPTS", "2")
    get_settings.cache_clear()
    row = service.add_server(db, tenant.id, name="bakery", url=mcp_server.url, credential=TOKEN)
    service.refresh_tools(db, tenant.id, row.id)
    researcher = roster(db, tenant)["researcher"].id
    for tool in row.tools:
        service.set_policy(db, tenant.id, researcher, tool.id, "default")  # orders: ask first
    goal = make_goal(db, tenant, "Keep the butter stocked")
    db.commit()
    operator = bearer(db, tenant, Role.OPERATOR)
    endpoint.reply_json({"rationale": "One card.", "tasks": [{
        "key": "stock", "title": "Butter stock", "agent": "researcher",
        "instructions": "Order butter for the week.", "depends_on": [],
        "estimated_credits": 3}]})
    endpoint.reply_json(_order(5))  # run 1 stops: the operator decides
    runner.submit("plan_goal", {"goal_id": goal.id, "account_id": tenant.id})
    runner.wait_idle(timeout=30)
    db.rollback()
    [task] = db.scalars(select(Task).where(Task.goal_id == goal.id))
    assert task.status == TaskStatus.BLOCKED

    endpoint.reply_json(_order(7))  # run 2 stops again
    _approve_the_waiting_call(client, db, task, operator)
    runner.wait_idle(timeout=30)
    db.rollback()
    db.refresh(task)
    assert (task.status, task.attempts, task.waits) == (TaskStatus.BLOCKED, 2, 2)
    assert task.tries == 0 and may_try_again(task)

    # Run 3 delivers; the CEO sends it back, and run 4 (a second try) is accepted.
    endpoint.reply_json({"tool": "none", "arguments": {}, "reason": "Ordered."})
    endpoint.reply_json({"deliverable": "## Butter\n\nOrdered.", "note": "Ordered."})
    endpoint.reply_json({"verdict": "revise", "feedback": "Say how much butter came to."})
    endpoint.reply_json({"tool": "none", "arguments": {}, "reason": "Ordered."})
    endpoint.reply_json({"deliverable": "## Butter\n\n12 packs ordered.", "note": "Ordered."})
    endpoint.reply_json({"verdict": "accept", "feedback": ""})
    endpoint.reply_json({"summary": "Butter ordered."})
    _approve_the_waiting_call(client, db, task, operator)
    done = wait_for_goal(db, runner, goal.id)
    assert done.status == GoalStatus.COMPLETED, (done.status_reason, task.status_reason)
    db.refresh(task)
    assert (task.attempts, task.waits, task.tries) == (4, 2, 2)
    assert mcp_server.orders()[-2:] == ["order butter 5", "order butter 7"]
    endpoint.assert_all_used()
    card = client.get(f"/api/v1/tasks/{task.id}", headers=operator).json()
    assert (card["attempts"], card["tries"]) == (4, 2)
    login(client, tenant.operator)
    page = client.get(f"/goals/{goal.id}/tasks/{task.id}").text
    assert "<dt>Attempt</dt><dd>2</dd>" in page  # the tries, not the four runs

"""Tools offered as functions (``WEB4OS_MODEL_TOOL_CALLS=true``) to an endpoint that can
call them: the model's calls are run inside the card's account and goal, metered,
recorded, and answered as ``tool`` messages; what it invents cannot widen the scope."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.agents.conftest import wait_for_goal
from tests.factories import Tenant, make_goal, make_tenant
from tests.support.fake_openai import FakeOpenAI
from web4os.agents.notes import save_note
from web4os.config import get_settings
from web4os.goals.models import GoalStatus, Task, TaskEvent
from web4os.tenancy import bind_account
from web4os.workers.embedded import EmbeddedRunner


def test_a_specialist_calls_its_tools_through_function_calling(
    endpoint: FakeOpenAI, runner: EmbeddedRunner, db: Session, tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEB4OS_MODEL_TOOL_CALLS", "true")
    get_settings.cache_clear()
    rival = make_tenant(db, "Rival")
    bind_account(db, rival.id)
    save_note(db, rival.ctx(), title="Rival hours", body="RIVAL opens at 5am")
    bind_account(db, tenant.id)
    save_note(db, tenant.ctx(), title="Opening hours", body="We open at 7am")
    save_note(db, tenant.ctx(), title="Prices", body="Croissant 1.20")
    goal = make_goal(db, tenant, "Write our hours page")
    db.commit()

    fake = endpoint
    fake.reply_json({"rationale": "One card.", "tasks": [{
        "key": "page", "title": "Hours page", "agent": "writer", "instructions": "Write it.",
        "depends_on": [], "estimated_credits": 3}]})
    # A forged account id and an undeclared argument are dropped; "hours" still matches.
    fake.tool_call("notes", {"query": "hours", "account_id": rival.id})
    fake.tool_call("delete_everything", {})
    fake.reply_json({"deliverable": "## Hours\n\nWe open at 7am.", "note": "Used the notes."})
    fake.reply_json({"verdict": "accept", "feedback": ""})
    fake.reply_json({"summary": "Done."})
    runner.submit("plan_goal", {"goal_id": goal.id, "account_id": tenant.id})
    goal = wait_for_goal(db, runner, goal.id)
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    fake.assert_all_used()

    first, second, third = fake.chat_requests[1:4]
    offered = {t["function"]["name"] for t in first["tools"]}
    assert offered == {"read_goal_outputs", "notes"} and first["tool_choice"] == "auto"
    assert "NOTES:" not in first["messages"][-1]["content"]  # not run up front this time
    [tool_msg] = [m for m in second["messages"] if m["role"] == "tool"]
    assert tool_msg["content"] == "Opening hours: We open at 7am"
    assert "RIVAL" not in json.dumps(fake.chat_requests)
    refused = [m for m in third["messages"] if m["role"] == "tool"][-1]
    assert "no tool called" in refused["content"]

    task = db.scalars(select(Task).where(Task.goal_id == goal.id)).unique().one()
    runs = db.scalars(select(TaskEvent).where(TaskEvent.task_id == task.id,
                                              TaskEvent.kind == "tool_run")).all()
    assert [(e.data["tool"], e.data["args"], e.data["items"]) for e in runs] == [
        ("notes", {"query": "hours"}, 1)]
    calls = db.scalars(select(TaskEvent).where(TaskEvent.task_id == task.id,
                                               TaskEvent.kind == "model_call")).all()
    assert [c.data.get("tool_calls") for c in calls][:2] == [["notes"], ["delete_everything"]]
    assert task.actual_credits == (sum(int(c.data["credits"]) for c in calls)
                                   + get_settings().credits_per_tool_run)

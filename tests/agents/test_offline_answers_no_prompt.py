"""The offline model answers from the prompt's sections, never with the prompt's own
closing words ("Answer with a JSON object: …"): not on a root card (its instructions
are the last section), not on a card sent back (its feedback is)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.agents.conftest import wait_for_goal
from tests.factories import (
    Tenant,
    csrf_from,
    login,
    make_card_in_review,
    submit_goal,
)
from web4os.agents.prompts import AgentBrief, TaskContext, task_prompt
from web4os.agents.providers import OfflineModel
from web4os.agents.providers.base import ModelRequest
from web4os.goals.models import GoalStatus, Task, TaskStatus
from web4os.workers.embedded import EmbeddedRunner

LEAKS = ("Answer with a JSON object", '{"deliverable"', "ANSWER:", "Address it:")
WRITER = AgentBrief(slug="writer", name="Writer", role="writes", instructions="")


def _deliverable(ctx: TaskContext) -> str:
    reply = OfflineModel().complete(ModelRequest(messages=task_prompt(WRITER, ctx),
                                                 purpose="task", json_schema={}))
    return str(json.loads(reply.content)["deliverable"])


def _assert_no_prompt(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, f"the prompt's {leak!r} is in the deliverable:\n{text}"


def test_a_root_card_shows_its_instructions_without_the_answer_format() -> None:
    text = _deliverable(TaskContext(goal_title="Launch a newsletter", goal_brief="",
                                    task_title="Research the audience",
                                    instructions="Find who reads bakery newsletters."))
    assert "**What was asked:** Find who reads bakery newsletters." in text
    _assert_no_prompt(text)


def test_a_card_sent_back_shows_the_feedback_without_the_answer_format() -> None:
    text = _deliverable(TaskContext(goal_title="Launch a newsletter", goal_brief="",
                                    task_title="Draft", instructions="Write it.",
                                    feedback="Make it warmer."))
    assert "- Addressed: Make it warmer.\n" in text
    assert "Address it" not in text
    _assert_no_prompt(text)


def test_a_goal_run_and_a_send_back_deliver_no_prompt_text(
        client: TestClient, runner: EmbeddedRunner, db: Session, tenant: Tenant) -> None:
    login(client, tenant.operator)
    goal_id = submit_goal(client, csrf_from(client.get("/").text), "Launch a newsletter")
    assert wait_for_goal(db, runner, goal_id).status == GoalStatus.COMPLETED
    outputs = db.scalars(select(Task.output).where(Task.goal_id == goal_id)).all()
    assert outputs
    for output in outputs:
        _assert_no_prompt(output)

    card = make_card_in_review(db, tenant, "## Draft\n\nA first version.")
    page = client.get(f"/goals/{card.goal_id}/tasks/{card.id}")
    resp = client.post(f"/tasks/{card.id}/reject", data={
        "feedback": "Mention our sourdough", "csrf_token": csrf_from(page.text)},
        follow_redirects=False)
    assert resp.status_code == 303
    runner.wait_idle(timeout=20)
    db.rollback()
    redone = db.get(Task, card.id)
    assert redone is not None and redone.status in (TaskStatus.NEEDS_REVIEW, TaskStatus.DONE)
    assert "Addressed: Mention our sourdough" in redone.output
    _assert_no_prompt(redone.output)

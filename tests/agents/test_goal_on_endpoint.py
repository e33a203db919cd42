"""Whole goals against an OpenAI-compatible endpoint configured only through the
environment (``WEB4OS_OPENAI_BASE_URL``/``WEB4OS_OPENAI_API_KEY``): no code change,
no provider override. FakeOpenAI plays the model, answers scripted in call order
(plans here are chains, so the order of calls is fixed)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.agents.conftest import wait_for_goal
from tests.factories import Tenant, csrf_from, login, make_goal
from tests.support.fake_openai import FakeOpenAI
from web4os.goals.models import GoalStatus, Task, TaskEvent, TaskStatus
from web4os.goals.replanning import replan_event_kinds
from web4os.workers.embedded import EmbeddedRunner


def plan_json(*specs: tuple[str, str, list[str]]) -> dict[str, Any]:
    return {"rationale": "A short chain.", "tasks": [
        {"key": k, "title": f"Task {k}", "agent": a, "instructions": f"Please do {k}.",
         "depends_on": d, "estimated_credits": 3, "requires_approval": False}
        for k, a, d in specs]}


def deliverable(text: str) -> dict[str, str]:
    return {"deliverable": f"## {text}\n\nThe work, in markdown.", "note": f"{text} is ready."}


ACCEPT = {"verdict": "accept", "feedback": "Good."}


def start(db: Session, runner: EmbeddedRunner, tenant: Tenant, **kw: Any) -> int:
    goal = make_goal(db, tenant, "Launch a bakery newsletter", **kw)
    db.commit()
    runner.submit("plan_goal", {"goal_id": goal.id, "account_id": tenant.id})
    return goal.id


def tasks_of(db: Session, goal_id: int) -> dict[str, Task]:
    return {t.key: t for t in db.scalars(select(Task).where(Task.goal_id == goal_id)).unique()}


def events(db: Session, goal_id: int, kind: str) -> list[TaskEvent]:
    return list(db.scalars(select(TaskEvent).where(TaskEvent.goal_id == goal_id,
                                                   TaskEvent.kind == kind).order_by(TaskEvent.id)))


def test_a_goal_runs_end_to_end_on_the_configured_endpoint(
    endpoint: FakeOpenAI, runner: EmbeddedRunner, db: Session, tenant: Tenant,
) -> None:
    fake = endpoint
    fake.reply_json(plan_json(("research", "researcher", []), ("draft", "writer", ["research"])),
                    prompt_tokens=300, completion_tokens=120)
    fake.reply_json(deliverable("Research"), prompt_tokens=200, completion_tokens=400)
    fake.reply_json(ACCEPT, prompt_tokens=150, completion_tokens=10)
    fake.reply_json(deliverable("Draft"), prompt_tokens=250, completion_tokens=500)
    fake.reply_json(ACCEPT, prompt_tokens=150, completion_tokens=10)
    fake.reply_json({"summary": "**Done.** Send the newsletter on Monday."})
    goal = wait_for_goal(db, runner, start(db, runner, tenant))

    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    assert goal.summary.startswith("**Done.**")
    fake.assert_all_used()
    tasks = tasks_of(db, goal.id)
    assert tasks["draft"].output.startswith("## Draft")
    assert all(t.status == TaskStatus.DONE for t in tasks.values())
    assert all(r["headers"]["authorization"] == "Bearer sk-test-global"
               for r in fake.chat_requests)
    # The writer got the researcher's output as an input document.
    draft_prompt = fake.chat_requests[3]["messages"][-1]["content"]
    assert "--- DOC: Task research (by Researcher) ---" in draft_prompt
    assert "## Research" in draft_prompt

    calls = events(db, goal.id, "model_call")
    assert [c.data["purpose"] for c in calls] == [
        "plan", "task", "review", "task", "review", "summary"]
    research = calls[1]
    assert research.task_id == tasks["research"].id
    assert research.data["model"] == "fake-model" and research.data["offline"] is False
    assert (research.data["prompt_tokens"], research.data["completion_tokens"]) == (200, 400)
    assert isinstance(research.data["latency_ms"], int) and research.data["credits"] >= 1
    assert goal.credits_spent == sum(int(c.data["credits"]) for c in calls)


def test_a_rejected_card_is_redone_with_the_operators_feedback_in_the_prompt(
    endpoint: FakeOpenAI, runner: EmbeddedRunner, db: Session, tenant: Tenant,
    client: TestClient,
) -> None:
    fake = endpoint
    fake.reply_json(plan_json(("research", "researcher", [])))
    fake.reply_json(deliverable("First try"))
    goal_id = start(db, runner, tenant, require_approval=True)
    wait_for_goal(db, runner, goal_id, GoalStatus.RUNNING)
    runner.wait_idle()
    db.rollback()
    card = tasks_of(db, goal_id)["research"]
    assert card.status == TaskStatus.NEEDS_REVIEW

    fake.reply_json(deliverable("Second try"))
    login(client, tenant.operator)
    page = client.get(f"/goals/{goal_id}/tasks/{card.id}")
    feedback = "Focus on bakeries within 5 km of Lyon, not national chains."
    resp = client.post(f"/tasks/{card.id}/reject",
                       data={"feedback": feedback, "csrf_token": csrf_from(page.text)},
                       follow_redirects=False)
    assert resp.status_code in (200, 303), resp.text
    runner.wait_idle()
    db.rollback()

    redo = fake.chat_requests[-1]["messages"][-1]["content"]
    assert "FEEDBACK: A previous version was sent back" in redo
    assert feedback in redo
    assert "FEEDBACK" not in fake.chat_requests[1]["messages"][-1]["content"]
    card = tasks_of(db, goal_id)["research"]
    assert card.status == TaskStatus.NEEDS_REVIEW and card.output.startswith("## Second try")
    assert card.attempts == 2


def test_a_plan_with_a_cycle_fails_the_goal_with_the_raw_answer(
    endpoint: FakeOpenAI, runner: EmbeddedRunner, db: Session, tenant: Tenant,
) -> None:
    cyclic = plan_json(("a", "researcher", ["b"]), ("b", "writer", ["a"]))
    endpoint.reply_json(cyclic).reply_json(cyclic)
    goal = wait_for_goal(db, runner, start(db, runner, tenant))
    assert goal.status == GoalStatus.FAILED
    assert "cycle" in goal.status_reason
    [failed] = events(db, goal.id, "plan_failed")
    assert json.loads(failed.data["raw"]) == cyclic
    assert len(events(db, goal.id, "model_call")) == 2  # the repair re-ask is on record
    assert tasks_of(db, goal.id) == {}


def test_a_permanent_failure_is_replanned_once(
    endpoint: FakeOpenAI, runner: EmbeddedRunner, db: Session, tenant: Tenant,
) -> None:
    fake = endpoint
    fake.reply_json(plan_json(("a", "researcher", []), ("b", "writer", ["a"])))
    fake.reply("I cannot do that").reply("Still no JSON, sorry")  # task a fails for good
    fake.reply_json(plan_json(("a-small", "analyst", []), ("b-2", "writer", ["a-small"])))
    fake.reply_json(deliverable("Smaller step")).reply_json(ACCEPT)
    fake.reply_json(deliverable("Writing")).reply_json(ACCEPT)
    fake.reply_json({"summary": "Done after a re-plan."})
    goal = wait_for_goal(db, runner, start(db, runner, tenant))

    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    assert goal.replans == 1
    fake.assert_all_used()
    replan_prompt = fake.chat_requests[3]["messages"][-1]["content"]
    assert "FAILED:\n- a (researcher): Task a" in replan_prompt
    assert "REMAINING:\n- b (writer): Task b" in replan_prompt
    assert "KEYS IN USE: a, b" in replan_prompt
    tasks = tasks_of(db, goal.id)
    for key in ("a", "b"):
        assert tasks[key].status == TaskStatus.CANCELLED
        assert "re-plan" in tasks[key].status_reason
    assert tasks["a-small"].status == tasks["b-2"].status == TaskStatus.DONE
    assert tasks["a"].output == "Still no JSON, sorry"  # the raw answer stayed on the card
    assert replan_event_kinds(db, tenant.id, goal.id) == ["replan_started", "replanned"]
    assert [c.data["purpose"] for c in events(db, goal.id, "model_call")][:4] == [
        "plan", "task", "task", "replan"]


def test_a_second_permanent_failure_waits_for_the_operator(
    endpoint: FakeOpenAI, runner: EmbeddedRunner, db: Session, tenant: Tenant,
) -> None:
    fake = endpoint
    fake.reply_json(plan_json(("a", "researcher", [])))
    fake.reply("no").reply("no")
    fake.reply_json(plan_json(("a-2", "researcher", [])))
    fake.reply("still no").reply("still no")
    goal = wait_for_goal(db, runner, start(db, runner, tenant))
    assert goal.status == GoalStatus.FAILED
    assert goal.status_reason.startswith("Waiting for you:")
    assert "“Task a-2” failed again after the CEO agent re-planned once" in goal.status_reason
    assert goal.replans == 1
    fake.assert_all_used()  # no second re-plan was asked for


def test_a_failed_replan_waits_for_the_operator_with_the_reason(
    endpoint: FakeOpenAI, runner: EmbeddedRunner, db: Session, tenant: Tenant,
    client: TestClient,
) -> None:
    fake = endpoint
    fake.reply_json(plan_json(("a", "researcher", []), ("b", "writer", ["a"])))
    fake.reply("no").reply("no")
    reuse = plan_json(("a", "researcher", []))  # reuses a taken key: breaks the rules
    fake.reply_json(reuse).reply_json(reuse)
    goal = wait_for_goal(db, runner, start(db, runner, tenant))
    assert goal.status == GoalStatus.FAILED
    assert "could not re-plan" in goal.status_reason
    assert "belongs to an earlier task" in goal.status_reason
    assert replan_event_kinds(db, tenant.id, goal.id) == ["replan_started", "replan_failed"]
    tasks = tasks_of(db, goal.id)
    assert tasks["a"].status == TaskStatus.FAILED  # nothing was replaced
    assert tasks["b"].status == TaskStatus.PLANNED
    login(client, tenant.viewer)
    page = client.get(f"/goals/{goal.id}")
    assert "could not re-plan" in page.text

    # The operator cancels the failed card: the goal resumes without it.
    fake.reply_json(deliverable("B anyway")).reply_json(ACCEPT)
    fake.reply_json({"summary": "Done without a."})
    login(client, tenant.operator)
    page = client.get(f"/goals/{goal.id}/tasks/{tasks['a'].id}")
    client.post(f"/tasks/{tasks['a'].id}/cancel", data={"csrf_token": csrf_from(page.text)})
    goal = wait_for_goal(db, runner, goal.id, GoalStatus.COMPLETED)
    fake.assert_all_used()


def test_a_near_miss_agent_and_a_prose_deliverable_are_repaired_and_said_on_the_board(
    endpoint: FakeOpenAI, runner: EmbeddedRunner, db: Session, tenant: Tenant,
    client: TestClient,
) -> None:
    fake = endpoint
    fake.reply_json(plan_json(("promote", "marketing", [])))  # the roster has "marketer"
    prose = ("Post twice a week on the bakery's Instagram: Tuesday shows the dough at dawn, "
             "Friday the weekend specials. Put a sign by the till that invites people to "
             "follow, and answer every comment the same day.")
    fake.reply(prose).reply_json(ACCEPT)
    fake.reply_json({"summary": "Promotion planned."})
    goal = wait_for_goal(db, runner, start(db, runner, tenant))

    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    fake.assert_all_used()
    card = tasks_of(db, goal.id)["promote"]
    assert card.agent.slug == "marketer" and card.status == TaskStatus.DONE
    assert card.output == prose
    assert "prose" in card.note and "kept as the deliverable" in card.note
    on_goal, on_card = (
        [e for e in events(db, goal.id, "repair") if e.task_id == task_id]
        for task_id in (None, card.id))
    assert len(on_goal) == 1 and "“marketing”" in on_goal[0].message
    assert "Marketer" in on_goal[0].message and on_goal[0].actor == "ceo"
    assert len(on_card) == 1 and "prose" in on_card[0].message
    login(client, tenant.viewer)
    page = client.get(f"/goals/{goal.id}/tasks/{card.id}").text
    assert '<span class="pill">repair</span>' in page and "kept as the deliverable" in page


def test_a_review_the_ceo_agent_cannot_give_leaves_the_card_to_the_operator_plainly(
    endpoint: FakeOpenAI, runner: EmbeddedRunner, db: Session, tenant: Tenant,
    client: TestClient,
) -> None:
    fake = endpoint
    fake.reply_json(plan_json(("a", "researcher", [])))
    fake.reply_json({"deliverable": "## A\n\nThe work.", "note": "cleaner"})
    fake.reply("a verdict in prose").reply("still prose")  # the review, and its re-ask
    goal = wait_for_goal(db, runner, start(db, runner, tenant), GoalStatus.RUNNING)
    fake.assert_all_used()
    card = tasks_of(db, goal.id)["a"]
    assert card.status == TaskStatus.NEEDS_REVIEW
    assert card.output == "## A\n\nThe work."
    assert card.status_reason.startswith("The CEO agent")
    assert "could not review this result" in card.status_reason
    assert "approve it or send it back" in card.status_reason
    waiting = [e for e in events(db, goal.id, "status") if e.task_id == card.id][-1]
    assert waiting.to_status == "needs_review" and "review_error" in waiting.data
    login(client, tenant.viewer)
    assert "could not review this result" in client.get(f"/goals/{goal.id}/tasks/{card.id}").text


def test_a_model_answer_with_nul_and_half_surrogates_is_stored_cleaned(
    endpoint: FakeOpenAI, runner: EmbeddedRunner, db: Session, tenant: Tenant,
) -> None:
    """Neither database can store a lone surrogate (and Postgres no NUL): a model's answer
    is kept with them replaced or dropped rather than failing the card at the commit."""
    fake = endpoint
    fake.reply_json(plan_json(("a", "researcher", [])))
    fake.reply('{"deliverable": "## A\\u0000 \\ud800done\\u202e", "note": "ok\\u0007"}')
    fake.reply_json(ACCEPT)
    fake.reply('{"summary": "Done\\u0000 \\udfff."}')
    goal = wait_for_goal(db, runner, start(db, runner, tenant))
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    fake.assert_all_used()
    card = tasks_of(db, goal.id)["a"]
    assert card.output == "## A \ufffddone\u202e"  # direction controls are shown isolated
    assert card.note == "ok"
    assert goal.summary == "Done \ufffd."


def test_a_card_that_needs_approval_says_so_in_web4os_words(
    endpoint: FakeOpenAI, runner: EmbeddedRunner, db: Session, tenant: Tenant,
) -> None:
    fake = endpoint
    plan = plan_json(("a", "researcher", []))
    plan["tasks"][0]["requires_approval"] = True
    fake.reply_json(plan)
    fake.reply_json({"deliverable": "## A\n\nThe work.", "note": "cleaner"})
    goal = wait_for_goal(db, runner, start(db, runner, tenant), GoalStatus.RUNNING)
    fake.assert_all_used()  # no CEO review: the operator approves this one
    card = tasks_of(db, goal.id)["a"]
    assert card.status == TaskStatus.NEEDS_REVIEW
    assert card.status_reason == "Ready for your approval. Researcher's note: cleaner"

"""The first slice end to end: submit a goal, the CEO plans it, specialists run the DAG,
the goal completes with a summary, and the page shows the cards."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant, csrf_from, login, submit_goal
from web4os.goals.models import Goal, GoalStatus, Task, TaskEvent, TaskStatus
from web4os.workers.embedded import EmbeddedRunner


def _wait_for_goal(db: Session, runner: EmbeddedRunner, goal_id: int,
                   timeout: float = 30.0) -> Goal:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runner.wait_idle(timeout=5)
        db.rollback()  # end the read snapshot so the workers' commits are visible
        goal = db.get(Goal, goal_id)
        assert goal is not None
        if goal.status in (GoalStatus.COMPLETED, GoalStatus.FAILED):
            return goal
    raise AssertionError("goal did not finish")


def test_goal_runs_end_to_end_in_the_browser_flow(
    client: TestClient, runner: EmbeddedRunner, db: Session, tenant: Tenant,
) -> None:
    login(client, tenant.operator)
    home = client.get("/")
    assert home.status_code == 200
    assert "Offline model" in home.text  # the UI says plainly which model answers
    goal_id = submit_goal(client, csrf_from(home.text), "Launch a newsletter for our bakery")

    goal = _wait_for_goal(db, runner, goal_id)
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    assert "Launch a newsletter for our bakery" in goal.summary
    tasks = db.scalars(select(Task).where(Task.goal_id == goal_id)).unique().all()
    assert 3 <= len(tasks) <= 8
    assert all(t.status == TaskStatus.DONE for t in tasks)
    assert all(t.output and "offline model" in t.output for t in tasks)
    assert any("bakery" in t.instructions for t in tasks)  # the plan mentions the goal

    # Order: no task started before every task it depends on was done.
    from web4os.goals.service import dependency_map

    deps = dependency_map(db, tenant.id, goal_id)
    done_at = {t.id: t.finished_at for t in tasks}
    started = {t.id: t.started_at for t in tasks}
    for task_id, parents in deps.items():
        for p in parents:
            finished, began = done_at[p], started[task_id]
            assert finished is not None and began is not None
            assert finished <= began
    assert any(len(ps) > 1 for ps in deps.values())  # a join: parallel branches exist

    # Every task has a history: queued → running → needs review → done, plus model calls.
    events = db.scalars(select(TaskEvent).where(TaskEvent.task_id == tasks[0].id)
                        .order_by(TaskEvent.id)).all()
    assert [e.to_status for e in events if e.kind == "status"] == [
        "queued", "running", "needs_review", "done"]
    assert any(e.kind == "model_call" and e.data["credits"] >= 1 for e in events)

    page = client.get(f"/goals/{goal_id}")
    assert page.status_code == 200
    for t in tasks:
        assert t.title in page.text
    assert "summary" in page.text.lower() and goal.summary.splitlines()[0][2:20] in page.text
    card = client.get(f"/goals/{goal_id}/tasks/{tasks[0].id}")
    assert card.status_code == 200 and "Timeline" in card.text


def test_spend_is_metered(db: Session, runner: EmbeddedRunner, client: TestClient,
                          tenant: Tenant) -> None:
    login(client, tenant.owner)
    home = client.get("/")
    client.post("/goals", data={"title": "Find three suppliers",
                                "csrf_token": csrf_from(home.text)})
    db.rollback()  # end the read snapshot login() opened, to see the request's commit
    goal = db.scalars(select(Goal)).one()
    goal = _wait_for_goal(db, runner, goal.id)
    from web4os.credits.service import balance

    spent = 1000 - balance(db, tenant.id)
    assert spent > 0
    tasks = db.scalars(select(Task).where(Task.goal_id == goal.id)).unique().all()
    assert goal.credits_spent == spent
    assert sum(t.actual_credits for t in tasks) < spent  # planning and summary cost too


def test_empty_and_huge_titles_rerender_the_form(client: TestClient, tenant: Tenant,
                                                 db: Session) -> None:
    login(client, tenant.operator)
    token = csrf_from(client.get("/").text)
    for title, message in (("", "Give the goal a title"),
                           ("y" * 10_000, "Keep the title under 200 characters")):
        resp = client.post("/goals", data={"title": title, "brief": "keep me",
                                           "csrf_token": token})
        assert resp.status_code == 400
        assert message in resp.text
        assert "keep me" in resp.text  # the operator's input is kept
    assert db.scalars(select(Goal)).first() is None

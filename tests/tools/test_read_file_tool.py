"""The built-in file reader: an agent reads one of its goal's files or the account's
knowledge files by name, page by page, recorded and metered like any tool call; a name
from another goal or another account is no such file; a file without text says why."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.agents.conftest import wait_for_goal
from tests.factories import Tenant, login, make_goal, make_tenant, roster
from tests.files import samples
from tests.support.fake_openai import FakeOpenAI
from tests.tools.conftest import bearer
from web4os.accounts.models import Role
from web4os.agents.action_step import ToolOffer, action_messages
from web4os.agents.prompts import AgentBrief, FileDoc, TaskContext
from web4os.agents.providers import offline
from web4os.credits.pricing import cost_of_tool_run
from web4os.files import pages
from web4os.files import service as files
from web4os.goals.models import GoalStatus, Task, TaskEvent
from web4os.tenancy import AccountId
from web4os.tools import builtin, service
from web4os.tools.models import CallStatus, ToolCall
from web4os.workers.embedded import EmbeddedRunner

PAGE = pages.PAGE_CHARS


def _menu() -> bytes:
    """Three pages of text, each page marked where it starts."""
    return ("PAGE-ONE-MARK " + "a" * (PAGE - 14) + "PAGE-TWO-MARK " + "b" * (PAGE - 14)
            + "PAGE-THREE-MARK the end").encode()


def _enable(db: Session, tenant: Tenant, *agents: str) -> int:
    server = builtin.builtin_server(db, tenant.id)
    assert server is not None
    [tool] = [t for t in server.tools if t.name == builtin.READ_FILE]
    team = roster(db, tenant)
    for slug in agents:
        service.set_policy(db, tenant.id, team[slug].id, tool.id, "default")
    db.commit()
    return tool.id


def _read(tenant: Tenant, goal_id: int, **arguments: Any) -> tuple[str, bool]:
    outcome = builtin.run_builtin(builtin.READ_FILE, False, arguments,
                                  account_id=AccountId(tenant.id), goal_id=goal_id)
    return outcome.text, outcome.is_error


def test_a_specialist_reads_an_attached_file_page_by_page_on_the_card(
        endpoint: FakeOpenAI, runner: EmbeddedRunner, client: TestClient, db: Session,
        tenant: Tenant) -> None:
    _enable(db, tenant, "researcher")
    goal = make_goal(db, tenant, "Sum up the menu")
    files.upload(db, tenant.ctx(), name="menu.txt", data=_menu(), goal=goal)
    db.commit()
    endpoint.reply_json({"rationale": "One card.", "tasks": [{
        "key": "menu", "title": "Read the menu", "agent": "researcher",
        "instructions": "Read all of menu.txt.", "depends_on": [], "estimated_credits": 3}]})
    endpoint.reply_json({"tool": "web4os.read_file", "reason": "Start.",
                         "arguments": {"name": "menu.txt", "page": 1}})
    endpoint.reply_json({"tool": "web4os.read_file", "reason": "Go on.",
                         "arguments": {"name": "menu.txt", "page": 2}})
    endpoint.reply_json({"tool": "none", "arguments": {}, "reason": "Enough."})
    endpoint.reply_json({"deliverable": "## Menu\n\nTwo pages read.", "note": "Read it."})
    endpoint.reply_json({"verdict": "accept", "feedback": ""})
    endpoint.reply_json({"summary": "Done."})
    runner.submit("plan_goal", {"goal_id": goal.id, "account_id": tenant.id})
    goal = wait_for_goal(db, runner, goal.id)
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    endpoint.assert_all_used()

    first_step = endpoint.chat_requests[1]["messages"][-1]["content"]
    assert "FILES:\n- menu.txt (attached)" in first_step and "web4os.read_file" in first_step
    rows = list(db.scalars(select(ToolCall).order_by(ToolCall.id)))
    assert [r.arguments for r in rows] == [{"name": "menu.txt", "page": 1},
                                           {"name": "menu.txt", "page": 2}]
    one, two = rows
    assert one.result.startswith("“menu.txt” (attached) · page 1 of 3 · ask for page 2 for more")
    assert "PAGE-ONE-MARK" in one.result and "PAGE-TWO-MARK" not in one.result
    assert two.result.startswith("“menu.txt” (attached) · page 2 of 3 · ask for page 3")
    assert "PAGE-TWO-MARK" in two.result and "PAGE-ONE-MARK" not in two.result
    price = cost_of_tool_run("web4os.read_file")
    assert all(r.status == CallStatus.DONE and r.read_only and r.credits == price for r in rows)
    deliverable_prompt = endpoint.chat_requests[4]["messages"][-1]["content"]
    assert "TOOL RESULTS" in deliverable_prompt and "PAGE-TWO-MARK" in deliverable_prompt

    [task] = db.scalars(select(Task).where(Task.goal_id == goal.id))
    events = list(db.scalars(select(TaskEvent).where(TaskEvent.task_id == task.id,
                                                     TaskEvent.kind == "tool_call")))
    assert [e.data["args"]["page"] for e in events] == [1, 2]
    login(client, tenant.viewer)
    page = client.get(f"/goals/{goal.id}/tasks/{task.id}")
    assert "web4os.read_file" in page.text and "page 2 of 3" in page.text


def test_names_of_another_goal_or_account_are_no_such_file(db: Session, tenant: Tenant) -> None:
    goal, elsewhere = make_goal(db, tenant, "Ours"), make_goal(db, tenant, "Another goal")
    files.upload(db, tenant.ctx(), name="prices.pdf", data=samples.pdf("Croissant costs 2 EUR"),
                 goal=goal)
    files.upload(db, tenant.ctx(), name="secret plan.txt", data=b"OTHER GOAL ONLY",
                 goal=elsewhere)
    files.upload(db, tenant.ctx(), name="brand.md", data=b"# Brand\nWarm and plain.")
    rival = make_tenant(db, "Rival")
    files.upload(db, rival.ctx(), name="rival.txt", data=b"RIVAL secret")
    rival_goal = make_goal(db, rival, "Theirs")
    files.upload(db, rival.ctx(), name="theirs.txt", data=b"RIVAL attachment", goal=rival_goal)
    db.commit()

    text, failed = _read(tenant, goal.id, name="prices.pdf", page=1)
    assert not failed and text.startswith("“prices.pdf” (attached) · page 1 of 1 · the end")
    assert "Croissant costs 2 EUR" in text
    text, failed = _read(tenant, goal.id, name="brand.md", page=1)
    assert not failed and "(knowledge)" in text and "Warm and plain." in text
    for name in ("secret plan.txt", "rival.txt", "theirs.txt"):
        text, failed = _read(tenant, goal.id, name=name, page=1)
        assert failed and text.startswith(f"No such file: “{name}”")
        assert "OTHER GOAL" not in text and "RIVAL" not in text
        assert "secret plan.txt”," not in text and "rival.txt”," not in text
    text, _ = _read(tenant, goal.id, name="nope", page=1)
    assert "“prices.pdf”" in text and "“brand.md”" in text  # what can be read, by name
    assert "secret plan" not in text and "rival" not in text and "theirs" not in text
    # The rival's goal id with our account finds nothing of theirs either.
    text, failed = _read(tenant, rival_goal.id, name="theirs.txt", page=1)
    assert failed and text.startswith("No such file")


def test_a_file_without_text_says_why_and_pages_are_bounded(
        db: Session, tenant: Tenant) -> None:
    goal = make_goal(db, tenant, "Scans")
    files.upload(db, tenant.ctx(), name="scan.pdf", data=samples.pdf(""), goal=goal)
    files.upload(db, tenant.ctx(), name="logo.png", data=samples.PNG, goal=goal)
    files.upload(db, tenant.ctx(), name="menu.txt", data=_menu(), goal=goal)
    db.commit()
    text, failed = _read(tenant, goal.id, name="scan.pdf", page=1)
    assert failed and "“scan.pdf” has no text the agents can read" in text
    assert "scanned pages are pictures" in text
    text, failed = _read(tenant, goal.id, name="logo.png", page=1)
    assert failed and "its model reads images" in text
    text, failed = _read(tenant, goal.id, name="menu.txt", page=4)
    assert failed and "has 3 page(s)" in text
    text, failed = _read(tenant, goal.id, name="menu.txt", page=3)
    assert not failed and "page 3 of 3 · the end of the file" in text and text.endswith("the end")
    for bad in ({"page": 1}, {"name": "menu.txt", "page": "two"}):
        text, failed = _read(tenant, goal.id, **bad)
        assert failed and text.startswith("Not run:")


def test_listed_for_every_account_without_a_switch_off_per_agent_until_enabled(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    other = make_tenant(db, "Rival Bakery")
    db.commit()
    owner, viewer, theirs = (bearer(db, tenant), bearer(db, tenant, role=Role.VIEWER),
                             bearer(db, other))
    researcher = roster(db, tenant)["researcher"].id
    db.rollback()
    [tool] = client.get("/api/v1/mcp/tools", headers=viewer).json()
    assert tool["name"] == "read_file" and tool["default_policy"] == "allowed"
    [item] = client.get(f"/api/v1/agents/{researcher}/tools", headers=owner).json()
    assert item["policy"] == "off"
    assert client.put(f"/api/v1/agents/{researcher}/tools/{tool['id']}", headers=viewer,
                      json={"policy": "allowed"}).status_code == 403
    put = client.put(f"/api/v1/agents/{researcher}/tools/{tool['id']}", headers=owner,
                     json={"policy": "default"})
    assert put.json()["policy"] == "allowed"
    # Web fetch stays off, and turning it on and off leaves the file reader as it is.
    assert client.get("/api/v1/tools/web-fetch", headers=owner).json()["enabled"] is False
    client.put("/api/v1/tools/web-fetch", headers=owner, json={"enabled": True})
    client.put("/api/v1/tools/web-fetch", headers=owner, json={"enabled": False})
    assert [t["name"] for t in client.get("/api/v1/mcp/tools", headers=owner).json()] == [
        "read_file"]
    [their_tool] = client.get("/api/v1/mcp/tools", headers=theirs).json()
    assert their_tool["id"] != tool["id"]
    assert client.put(f"/api/v1/agents/{researcher}/tools/{their_tool['id']}", headers=owner,
                      json={"policy": "allowed"}).status_code == 404


def test_the_offline_model_reads_the_first_attachment_page_by_page() -> None:
    offer = ToolOffer("web4os.read_file", builtin.READ_FILE_DESCRIPTION,
                      builtin.READ_FILE_SCHEMA)
    agent = AgentBrief(slug="researcher", name="Researcher", role="Research", instructions="")
    ctx = TaskContext(goal_title="Sum up the menu", goal_brief="", task_title="Research",
                      instructions="Look.", files=[FileDoc("brand.md", "knowledge", "x"),
                                                   FileDoc("menu.txt", "attached", "y")])

    def action(*results: str) -> dict[str, Any]:
        from web4os.agents.action_step import ToolResultLine

        done = [ToolResultLine("web4os.read_file", {"name": "menu.txt", "page": n}, r)
                for n, r in enumerate(results, start=1)]
        prompt = "\n\n".join(m["content"] for m in action_messages(agent, ctx, [offer], done))
        return offline._action(prompt)

    assert action()["arguments"] == {"name": "menu.txt", "page": 1}
    assert action("“menu.txt” (attached) · page 1 of 2 · ask for page 2 for more\n\nx")[
        "arguments"] == {"name": "menu.txt", "page": 2}
    assert action("“menu.txt” (attached) · page 1 of 2 · ask for page 2 for more\n\nx",
                  "“menu.txt” (attached) · page 2 of 2 · the end of the file\n\ny")["tool"] == "none"
    assert action("No such file: “menu.txt”.")["tool"] == "none"  # no loop on a refusal
    ctx.files.pop()
    assert action()["tool"] == "none"  # nothing attached: nothing to read


def test_an_offline_goal_reads_its_attachment_when_the_tool_is_enabled(
        runner: EmbeddedRunner, db: Session, tenant: Tenant) -> None:
    _enable(db, tenant, "researcher")
    goal = make_goal(db, tenant, "Sum up the menu")
    files.upload(db, tenant.ctx(), name="menu.txt", data=_menu()[:PAGE + 20], goal=goal)
    db.commit()
    runner.submit("plan_goal", {"goal_id": goal.id, "account_id": tenant.id})
    goal = wait_for_goal(db, runner, goal.id)
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    rows = list(db.scalars(select(ToolCall).order_by(ToolCall.id)))
    by_card: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_card.setdefault(row.task_id, []).append(row.arguments)
    assert by_card and all(calls == [{"name": "menu.txt", "page": 1},
                                     {"name": "menu.txt", "page": 2}]
                           for calls in by_card.values())
    researcher = roster(db, tenant)["researcher"].id
    assert {t.agent_id for t in db.scalars(select(Task).where(Task.id.in_(by_card)))} == {
        researcher}

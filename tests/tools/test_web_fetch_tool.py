"""The built-in web fetch as a tool of the runtime: off until an owner turns it on, hidden
when the server admin turns it off, run, recorded and metered like an MCP call, asking
first when the owner says so, and a refusal of the address guard is the call's result on
the card, not a failed card.

Loopback is allowed only where a test says so (``allow_loopback``), never by default."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.agents.conftest import wait_for_goal
from tests.factories import Tenant, csrf_from, login, make_goal, make_tenant, roster
from tests.netguard.site import Site, serving
from tests.support.fake_openai import FakeOpenAI
from tests.support.net import ConnectGuard, FakeDNS, connect_guard, fake_dns
from tests.tools.conftest import bearer, mcp_only
from web4os.accounts.models import Role
from web4os.agents.action_step import ToolOffer, action_messages
from web4os.agents.prompts import AgentBrief, TaskContext
from web4os.agents.providers import offline
from web4os.config import get_settings
from web4os.errors import InvalidInput
from web4os.goals.models import Goal, GoalStatus, Task, TaskEvent, TaskStatus
from web4os.tools import builtin, service
from web4os.tools.models import CallStatus, ToolCall
from web4os.workers.embedded import EmbeddedRunner

__all__ = ["connect_guard", "fake_dns"]


@pytest.fixture
def site() -> Iterator[Site]:
    with serving(Site("127.0.0.1")) as running:
        yield running


def _turn_on(db: Session, tenant: Tenant, *agents: str) -> int:
    """Web fetch on for the account, enabled with its default policy for ``agents``."""
    state = builtin.set_web_fetch(db, tenant.id, True)
    assert state.tool_id is not None
    team = roster(db, tenant)
    for slug in agents:
        service.set_policy(db, tenant.id, team[slug].id, state.tool_id, "default")
    db.commit()
    return state.tool_id


def _run_goal(db: Session, runner: EmbeddedRunner, tenant: Tenant, title: str) -> Goal:
    db.rollback()  # see what the requests committed (SQLite: no stale read before a write)
    goal = make_goal(db, tenant, title)
    db.commit()
    runner.submit("plan_goal", {"goal_id": goal.id, "account_id": tenant.id})
    return wait_for_goal(db, runner, goal.id)


def _researcher_cards(db: Session, tenant: Tenant, goal: Goal) -> list[Task]:
    researcher = roster(db, tenant)["researcher"].id
    return list(db.scalars(select(Task).where(Task.goal_id == goal.id,
                                              Task.agent_id == researcher).order_by(Task.id)))


@pytest.mark.usefixtures("allow_loopback")
def test_a_specialist_fetches_a_page_recorded_metered_and_on_the_card(
        client: TestClient, runner: EmbeddedRunner, db: Session, tenant: Tenant, site: Site,
        connect_guard: ConnectGuard, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_TOOL_RUN_CREDITS", '{"web_fetch": 4}')
    get_settings.cache_clear()
    _turn_on(db, tenant, "researcher")
    url = f"http://127.0.0.1:{site.port}/page"
    goal = _run_goal(db, runner, tenant, f"Sum up {url}")
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason

    cards = _researcher_cards(db, tenant, goal)
    rows = list(db.scalars(select(ToolCall).order_by(ToolCall.id)))
    assert cards and [r.task_id for r in rows] == [c.id for c in cards]
    assert site.requests == ["/page"] * len(rows)
    for row in rows:
        assert (row.server_name, row.tool_name, row.arguments) == ("web4os", "web_fetch",
                                                                   {"url": url})
        assert row.status == CallStatus.DONE and row.read_only and row.credits == 4
        assert "Opening hours" in row.result and "Open Monday to Friday" in row.result
        assert "not text" not in row.result  # the page's script is not its text
    events = list(db.scalars(select(TaskEvent).where(TaskEvent.kind == "tool_call")))
    assert len(events) == len(rows) and all(e.data["credits"] == 4 for e in events)
    assert all(c.actual_credits >= 4 for c in cards) and goal.credits_spent >= 4 * len(rows)

    login(client, tenant.viewer)
    page = client.get(f"/goals/{goal.id}/tasks/{cards[0].id}")
    assert "web4os.web_fetch" in page.text and "Opening hours" in page.text
    assert all(host == "127.0.0.1" for host, _port in connect_guard.connected)


@pytest.mark.usefixtures("allow_loopback")
def test_off_by_default_until_the_owner_turns_it_on(
        client: TestClient, runner: EmbeddedRunner, db: Session, tenant: Tenant,
        site: Site) -> None:
    owner, viewer = bearer(db, tenant), bearer(db, tenant, role=Role.VIEWER)
    state = client.get("/api/v1/tools/web-fetch", headers=viewer).json()
    assert state == {"available": True, "enabled": False, "offered": False, "tool_id": None}
    assert mcp_only(client.get("/api/v1/mcp/tools", headers=owner).json()) == []
    researcher = roster(db, tenant)["researcher"].id
    assert mcp_only(client.get(f"/api/v1/agents/{researcher}/tools", headers=owner).json()) == []

    goal = _run_goal(db, runner, tenant, f"Sum up http://127.0.0.1:{site.port}/page")
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    assert db.scalars(select(ToolCall)).first() is None and site.requests == []

    assert client.put("/api/v1/tools/web-fetch", headers=viewer,
                      json={"enabled": True}).status_code == 403
    on = client.put("/api/v1/tools/web-fetch", headers=owner, json={"enabled": True}).json()
    assert on["enabled"] and on["offered"] and on["tool_id"]
    [item] = mcp_only(client.get(f"/api/v1/agents/{researcher}/tools", headers=owner).json())
    assert item["policy"] == "off"  # on for the account; each agent is enabled on its own
    assert item["tool"]["name"] == "web_fetch" and item["tool"]["default_policy"] == "allowed"
    put = client.put(f"/api/v1/agents/{researcher}/tools/{on['tool_id']}", headers=owner,
                     json={"policy": "default"})
    assert put.json()["policy"] == "allowed"
    assert [s["name"] for s in client.get("/api/v1/mcp/servers", headers=owner).json()] == []

    off = client.put("/api/v1/tools/web-fetch", headers=owner, json={"enabled": False}).json()
    assert not off["offered"] and off["tool_id"] == on["tool_id"]
    assert mcp_only(client.get(f"/api/v1/agents/{researcher}/tools", headers=owner).json()) == []
    login(client, tenant.owner)
    page = client.get("/tools")
    assert "Web fetch is <strong>off</strong>" in page.text
    resp = client.post("/tools/web-fetch", data={"enabled": "on",
                                                 "csrf_token": csrf_from(page.text)},
                       follow_redirects=False)
    assert resp.status_code == 303
    page = client.get(f"/tools?agent={researcher}")
    assert "Web fetch is <strong>on</strong>" in page.text and "web4os.web_fetch" in page.text
    # The policy set before it was turned off is back.
    [item] = mcp_only(client.get(f"/api/v1/agents/{researcher}/tools", headers=owner).json())
    assert item["policy"] == "allowed"


@pytest.mark.usefixtures("allow_loopback")
def test_the_server_admin_turning_it_off_hides_it_everywhere(
        client: TestClient, runner: EmbeddedRunner, db: Session, tenant: Tenant, site: Site,
        monkeypatch: pytest.MonkeyPatch) -> None:
    tool_id = _turn_on(db, tenant, "researcher")
    researcher = roster(db, tenant)["researcher"].id
    db.rollback()
    monkeypatch.setenv("WEB4OS_WEB_FETCH_ENABLED", "false")
    get_settings.cache_clear()
    owner = bearer(db, tenant)
    state = client.get("/api/v1/tools/web-fetch", headers=owner).json()
    assert not state["available"] and not state["offered"]
    assert mcp_only(client.get("/api/v1/mcp/tools", headers=owner).json()) == []
    assert mcp_only(client.get(f"/api/v1/agents/{researcher}/tools", headers=owner).json()) == []
    assert client.put(f"/api/v1/agents/{researcher}/tools/{tool_id}", headers=owner,
                      json={"policy": "allowed"}).status_code == 404
    assert client.put("/api/v1/tools/web-fetch", headers=owner,
                      json={"enabled": True}).status_code == 403

    goal = _run_goal(db, runner, tenant, f"Sum up http://127.0.0.1:{site.port}/page")
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    assert db.scalars(select(ToolCall)).first() is None and site.requests == []
    login(client, tenant.owner)
    page = client.get("/tools")
    assert "The server admin turned web fetch off" in page.text
    assert "Turn web fetch on" not in page.text and "web4os.web_fetch" not in page.text


def test_a_private_address_is_refused_as_the_calls_result_on_the_card(
        client: TestClient, runner: EmbeddedRunner, db: Session, tenant: Tenant,
        fake_dns: FakeDNS) -> None:
    fake_dns.set("intranet.test", "10.0.0.1")
    _turn_on(db, tenant, "researcher")
    goal = _run_goal(db, runner, tenant, "Sum up http://intranet.test/payroll")
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason  # the card goes on

    cards = _researcher_cards(db, tenant, goal)
    rows = list(db.scalars(select(ToolCall).order_by(ToolCall.id)))
    assert cards and len(rows) == len(cards)
    for row in rows:
        assert row.status == CallStatus.FAILED and row.credits == 0
        assert row.result.startswith("Refused by web4os's address guard")
        assert "10.0.0.1" in row.result and "private network address" in row.result
    assert "intranet.test" in fake_dns.lookups
    login(client, tenant.viewer)
    page = client.get(f"/goals/{goal.id}/tasks/{cards[0].id}")
    assert "Refused by web4os" in page.text and "10.0.0.1" in page.text


def test_accounts_switch_and_call_independently(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    other = make_tenant(db, "Rival Bakery")
    db.commit()
    ours, theirs = bearer(db, tenant), bearer(db, other)
    on = client.put("/api/v1/tools/web-fetch", headers=ours, json={"enabled": True}).json()
    assert client.get("/api/v1/tools/web-fetch", headers=theirs).json()["tool_id"] is None
    assert mcp_only(client.get("/api/v1/mcp/tools", headers=theirs).json()) == []
    their_agent = roster(db, other)["researcher"].id
    assert client.put(f"/api/v1/agents/{their_agent}/tools/{on['tool_id']}", headers=theirs,
                      json={"policy": "allowed"}).status_code == 404

    db.rollback()
    goal = make_goal(db, tenant, "Sum up https://example.com")
    db.flush()
    task = Task(account_id=tenant.id, goal_id=goal.id, key="read", title="Read",
                agent_id=roster(db, tenant)["researcher"].id)
    db.add(task)
    db.flush()
    db.add(ToolCall(account_id=tenant.id, task_id=task.id, tool_id=on["tool_id"],
                    server_name="web4os", tool_name="web_fetch",
                    arguments={"url": "https://example.com"}, idempotency_key="iso-1",
                    status=CallStatus.AWAITING, read_only=True))
    db.commit()
    assert client.get(f"/api/v1/tasks/{task.id}/tool-calls", headers=ours).status_code == 200
    assert client.get(f"/api/v1/tasks/{task.id}/tool-calls", headers=theirs).status_code == 404
    call_id = db.scalars(select(ToolCall.id)).one()
    assert client.post(f"/api/v1/tasks/{task.id}/tool-calls/{call_id}/approve",
                       headers=theirs, json={}).status_code == 404

    theirs_on = client.put("/api/v1/tools/web-fetch", headers=theirs,
                           json={"enabled": True}).json()
    assert theirs_on["tool_id"] != on["tool_id"]
    client.put("/api/v1/tools/web-fetch", headers=theirs, json={"enabled": False})
    assert client.get("/api/v1/tools/web-fetch", headers=ours).json()["offered"] is True
    assert client.get(f"/api/v1/agents/{their_agent}/tools", headers=ours).status_code == 404


def test_the_builtin_name_is_reserved(db: Session, tenant: Tenant) -> None:
    with pytest.raises(InvalidInput):
        service.add_server(db, tenant.id, name="web4os", url="https://mcp.example.com/mcp")


def test_the_offline_model_fetches_only_a_url_the_goal_names() -> None:
    offer = ToolOffer("web4os.web_fetch", builtin.WEB_FETCH_DESCRIPTION,
                      builtin.WEB_FETCH_SCHEMA)
    agent = AgentBrief(slug="researcher", name="Researcher", role="Research", instructions="")

    def action(goal: str) -> dict[str, object]:
        ctx = TaskContext(goal_title=goal, goal_brief="", task_title="Research",
                          instructions="Look it up.")
        prompt = "\n\n".join(m["content"] for m in action_messages(agent, ctx, [offer], []))
        return offline._action(prompt)

    assert action("Read https://example.com/hours.") == {
        "tool": "web4os.web_fetch", "arguments": {"url": "https://example.com/hours"},
        "reason": "The offline model tries each tool it may use once."}
    assert action("Plan a tasting")["tool"] == "none"


@pytest.mark.usefixtures("allow_loopback")
def test_ask_first_stops_the_card_until_an_operator_approves_the_url(
        endpoint: FakeOpenAI, runner: EmbeddedRunner, client: TestClient, db: Session,
        tenant: Tenant, site: Site) -> None:
    operator = bearer(db, tenant, Role.OPERATOR)
    state = builtin.set_web_fetch(db, tenant.id, True)
    assert state.tool_id is not None
    service.set_policy(db, tenant.id, roster(db, tenant)["researcher"].id, state.tool_id, "ask")
    goal = make_goal(db, tenant, "Check the opening hours")
    db.commit()
    endpoint.reply_json({"rationale": "One card.", "tasks": [{
        "key": "hours", "title": "Opening hours", "agent": "researcher",
        "instructions": "Read the bakery's page.", "depends_on": [], "estimated_credits": 3}]})
    endpoint.reply_json({"tool": "web4os.web_fetch", "reason": "The page has the hours.",
                         "arguments": {"url": f"http://127.0.0.1:{site.port}/json"}})
    runner.submit("plan_goal", {"goal_id": goal.id, "account_id": tenant.id})
    runner.wait_idle(timeout=30)
    db.rollback()
    [task] = db.scalars(select(Task).where(Task.goal_id == goal.id))
    assert task.status == TaskStatus.BLOCKED and "web4os.web_fetch" in task.status_reason
    assert site.requests == []  # nothing fetched before the operator says so

    [call] = client.get(f"/api/v1/tasks/{task.id}/tool-calls", headers=operator).json()
    endpoint.reply_json({"tool": "none", "arguments": {}, "reason": "Done."})
    endpoint.reply_json({"deliverable": "## Hours\n\nMonday to Friday.", "note": "Read it."})
    endpoint.reply_json({"verdict": "accept", "feedback": ""})
    endpoint.reply_json({"summary": "Done."})
    edited = {"arguments": {"url": f"http://127.0.0.1:{site.port}/page"}}
    resp = client.post(f"/api/v1/tasks/{task.id}/tool-calls/{call['id']}/approve",
                       headers=operator, json=edited)
    assert resp.status_code == 200, resp.text
    goal = wait_for_goal(db, runner, goal.id)
    assert goal.status == GoalStatus.COMPLETED, goal.status_reason
    assert site.requests == ["/page"]  # once, as edited
    row = db.get(ToolCall, call["id"])
    assert row is not None and row.status == CallStatus.DONE and "Opening hours" in row.result

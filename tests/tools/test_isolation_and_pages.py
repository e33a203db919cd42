"""Another account's servers, tools and policies answer 404 everywhere; the Tools tab of
the agents section lets owners configure and everyone else read."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import Tenant, csrf_from, login, make_tenant, roster
from tests.support.mcp_server import RunningServer
from tests.tools.conftest import TOKEN, bearer, mcp_only
from web4os.errors import NotFound
from web4os.tools import service

pytestmark = pytest.mark.usefixtures("allow_loopback")


@pytest.fixture
def listed(db: Session, tenant: Tenant, mcp_server: RunningServer) -> dict[str, int]:
    """Tenant's server with its tools listed, and the researcher's read tool enabled."""
    server = service.add_server(db, tenant.id, name="bakery", url=mcp_server.url,
                                credential=TOKEN)
    service.refresh_tools(db, tenant.id, server.id)
    tool = next(t for t in server.tools if t.name == "stock_level")
    researcher = roster(db, tenant)["researcher"].id
    service.set_policy(db, tenant.id, researcher, tool.id, "default")
    ids = {"server": server.id, "tool": tool.id, "agent": researcher}
    db.commit()
    return ids


def test_another_account_gets_404_everywhere(client: TestClient, db: Session, tenant: Tenant,
                                            listed: dict[str, int]) -> None:
    other = make_tenant(db, "Rival Bakery")
    db.commit()
    theirs = bearer(db, other)
    own_agent = roster(db, other)["researcher"].id
    s, t, a = listed["server"], listed["tool"], listed["agent"]
    for method, path, body in (
            ("GET", f"/api/v1/mcp/servers/{s}", None),
            ("POST", f"/api/v1/mcp/servers/{s}/refresh", None),
            ("DELETE", f"/api/v1/mcp/servers/{s}", None),
            ("GET", f"/api/v1/agents/{a}/tools", None),
            ("PUT", f"/api/v1/agents/{a}/tools/{t}", {"policy": "allowed"}),
            ("PUT", f"/api/v1/agents/{own_agent}/tools/{t}", {"policy": "allowed"})):
        resp = client.request(method, path, headers=theirs, json=body)
        assert resp.status_code == 404, (method, path, resp.text)
    assert client.get("/api/v1/mcp/servers", headers=theirs).json() == []
    assert mcp_only(client.get("/api/v1/mcp/tools", headers=theirs).json()) == []
    assert all(item["policy"] == "off" for item in
               client.get(f"/api/v1/agents/{own_agent}/tools", headers=theirs).json())
    db.rollback()
    with pytest.raises(NotFound):
        service.get_tool(db, other.id, t)
    login(client, other.owner)
    page = client.get("/tools")
    assert "bakery" not in page.text and "stock_level" not in page.text
    token = csrf_from(page.text)
    for path in (f"/tools/servers/{s}/refresh", f"/tools/servers/{s}/delete",
                 f"/tools/agents/{a}"):
        resp = client.post(path, data={"csrf_token": token, f"policy_{t}": "off"},
                           follow_redirects=False)
        assert resp.status_code == 404, path
    resp = client.post(f"/tools/agents/{own_agent}",
                       data={"csrf_token": token, f"policy_{t}": "allowed"},
                       follow_redirects=False)
    assert resp.status_code == 404
    db.rollback()
    assert [p.policy for p in service.policy_rows(db, tenant.id)] == ["allowed"]
    assert service.policy_rows(db, other.id) == []


def test_owner_adds_a_server_and_sets_policies_on_the_page(
        client: TestClient, db: Session, tenant: Tenant, mcp_server: RunningServer) -> None:
    login(client, tenant.owner)
    page = client.get("/agents")
    assert 'href="/tools"' in page.text
    token = csrf_from(page.text)
    bad = client.post("/tools/servers", data={"csrf_token": token, "name": "Bad Name!",
                                              "url": mcp_server.url, "credential": TOKEN})
    assert bad.status_code == 400 and "lowercase" in bad.text
    assert mcp_server.url in bad.text and TOKEN not in bad.text  # input kept, secret not
    resp = client.post("/tools/servers", data={"csrf_token": token, "name": "bakery",
                                               "url": mcp_server.url, "credential": TOKEN},
                       follow_redirects=False)
    assert resp.status_code == 303
    researcher = roster(db, tenant)["researcher"].id
    page = client.get(f"/tools?agent={researcher}")
    assert "<code>bakery.place_order</code>" in page.text and "listed" in page.text
    ceo = next(a for a in roster(db, tenant).values() if a.is_ceo)
    assert f"/tools?agent={ceo.id}\"" not in page.text  # the CEO does no cards: no tools
    assert "Authorization: saved, hidden" in page.text and TOKEN not in page.text
    db.rollback()
    tools = {t.tool.name: t.tool.id for t in service.agent_tools(db, tenant.id, researcher)}
    resp = client.post(f"/tools/agents/{researcher}", data={
        "csrf_token": token, f"policy_{tools['place_order']}": "ask",
        f"policy_{tools['stock_level']}": "allowed", f"policy_{tools['unmarked']}": "off"},
        follow_redirects=False)
    assert resp.status_code == 303
    db.rollback()
    got = {t.tool.name: t.policy.value for t in service.enabled_tools(db, tenant.id, researcher)}
    assert got == {"place_order": "ask", "stock_level": "allowed"}


def test_viewers_read_the_tools_tab_but_change_nothing(
        client: TestClient, db: Session, tenant: Tenant, listed: dict[str, int]) -> None:
    for user in (tenant.viewer, tenant.operator):
        login(client, user)
        page = client.get(f"/tools?agent={listed['agent']}")
        assert page.status_code == 200 and "stock_level" in page.text
        assert "Add an MCP server" not in page.text and "<select" not in page.text
        token = csrf_from(page.text)
        for path in (f"/tools/servers/{listed['server']}/delete",
                     f"/tools/agents/{listed['agent']}", "/tools/servers"):
            resp = client.post(path, data={"csrf_token": token, "name": "x",
                                           f"policy_{listed['tool']}": "off"},
                               follow_redirects=False)
            assert resp.status_code == 403, (user.email, path)
        client.cookies.clear()
    db.rollback()
    assert len(service.list_servers(db, tenant.id)) == 1

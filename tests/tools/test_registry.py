"""The MCP registry against a real MCP server: the address guard, encrypted credentials,
listed tools with their hints, default policies, and the owners-configure rule."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.factories import Tenant, roster
from tests.support.mcp_server import RunningServer
from tests.support.threads import run_coroutine
from tests.tools.conftest import TOKEN, bearer, mcp_only, stdio_config
from web4os import sealing as secrets
from web4os.accounts.models import Role
from web4os.config import get_settings
from web4os.errors import InvalidInput
from web4os.tools import client as mcp_client
from web4os.tools import service
from web4os.tools.models import McpServer

pytestmark = pytest.mark.usefixtures("allow_loopback")


def _add(client: TestClient, headers: dict[str, str], server: RunningServer,
         credential: str = TOKEN, name: str = "bakery") -> dict[str, object]:
    resp = client.post("/api/v1/mcp/servers", headers=headers,
                       json={"name": name, "url": server.url, "credential": credential})
    assert resp.status_code == 201, resp.text
    body: dict[str, object] = resp.json()
    return body


def test_loopback_is_refused_without_the_admin_allowance(
        client: TestClient, db: Session, tenant: Tenant, mcp_server: RunningServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEB4OS_NET_ALLOWED_HOSTS")
    get_settings.cache_clear()
    resp = client.post("/api/v1/mcp/servers", headers=bearer(db, tenant),
                       json={"name": "local", "url": mcp_server.url})
    assert resp.status_code == 422
    assert "loopback" in resp.json()["detail"]
    for url in ("http://169.254.169.254/mcp", "file:///etc/passwd", "http://10.1.2.3/mcp"):
        with pytest.raises(InvalidInput):
            service.add_server(db, tenant.id, name="x", url=url)
    db.rollback()


def test_a_server_lists_its_tools_and_its_credential_never_comes_back(
        client: TestClient, db: Session, tenant: Tenant, mcp_server: RunningServer) -> None:
    headers = bearer(db, tenant)
    body = _add(client, headers, mcp_server)
    assert body["status"] == "ok" and body["last_error"] == ""
    assert body["has_credential"] is True and body["auth_header"] == "Authorization"
    tools = {t["name"]: t for t in body["tools"]}  # type: ignore[attr-defined]
    assert set(tools) == {"stock_level", "place_order", "unmarked"}
    assert tools["stock_level"]["read_only"] and tools["stock_level"]["default_policy"] == "allowed"
    assert tools["place_order"]["destructive"] and tools["place_order"]["default_policy"] == "ask"
    assert tools["unmarked"]["default_policy"] == "ask"  # no hints: maybe destructive
    assert "item" in tools["stock_level"]["input_schema"]["properties"]
    for path in ("/api/v1/mcp/servers", f"/api/v1/mcp/servers/{body['id']}"):
        assert TOKEN not in client.get(path, headers=headers).text
    stored = db.execute(text("SELECT credential_encrypted FROM mcp_servers "
                             "WHERE builtin = ''")).scalar_one()
    assert TOKEN not in stored and secrets.decrypt(stored) == f"Bearer {TOKEN}"


def test_a_wrong_credential_is_an_error_on_the_server(
        client: TestClient, db: Session, tenant: Tenant, mcp_server: RunningServer) -> None:
    body = _add(client, bearer(db, tenant), mcp_server, credential="wrong")
    assert body["status"] == "error" and body["tools"] == []
    assert str(body["last_error"]).startswith("The MCP server could not be listed")


def test_the_credential_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_CREDENTIALS_KEY", "first key")
    get_settings.cache_clear()
    sealed = secrets.encrypt("Bearer abc")
    assert "abc" not in sealed and secrets.decrypt(sealed) == "Bearer abc"
    monkeypatch.setenv("WEB4OS_CREDENTIALS_KEY", "another key")
    get_settings.cache_clear()
    with pytest.raises(InvalidInput, match="cannot be read"):
        secrets.decrypt(sealed)


def test_policies_default_by_hint_and_only_owners_set_them(
        client: TestClient, db: Session, tenant: Tenant, mcp_server: RunningServer) -> None:
    owner = bearer(db, tenant)
    operator, viewer = bearer(db, tenant, Role.OPERATOR), bearer(db, tenant, Role.VIEWER)
    tools = {t["name"]: t["id"] for t in _add(client, owner, mcp_server)["tools"]}  # type: ignore[attr-defined]
    researcher = roster(db, tenant)["researcher"].id
    url = f"/api/v1/agents/{researcher}/tools"
    assert {t["policy"] for t in client.get(url, headers=owner).json()} == {"off"}
    for name, expected in (("stock_level", "allowed"), ("place_order", "ask")):
        resp = client.put(f"{url}/{tools[name]}", headers=owner, json={"policy": "default"})
        assert resp.status_code == 200 and resp.json()["policy"] == expected
    assert client.put(f"{url}/{tools['unmarked']}", headers=owner,
                      json={"policy": "sometimes"}).status_code == 422
    assert client.put(f"{url}/{tools['place_order']}", headers=operator,
                      json={"policy": "allowed"}).status_code == 403
    assert client.post("/api/v1/mcp/servers", headers=operator,
                       json={"name": "x", "url": mcp_server.url}).status_code == 403
    listed = mcp_only(client.get(url, headers=viewer).json())
    seen = {t["tool"]["name"]: t["policy"] for t in listed}
    assert seen == {"stock_level": "allowed", "place_order": "ask", "unmarked": "off"}
    db.rollback()
    enabled = service.enabled_tools(db, tenant.id, researcher)
    assert {t.tool.name for t in enabled} == {"stock_level", "place_order"}
    client.put(f"{url}/{tools['stock_level']}", headers=owner, json={"policy": "off"})
    db.rollback()
    assert [t.tool.name for t in service.enabled_tools(db, tenant.id, researcher)] == [
        "place_order"]


def test_removing_a_server_removes_its_tools_and_policies(
        client: TestClient, db: Session, tenant: Tenant, mcp_server: RunningServer) -> None:
    owner = bearer(db, tenant)
    body = _add(client, owner, mcp_server)
    tool_id = body["tools"][0]["id"]  # type: ignore[index]
    researcher = roster(db, tenant)["researcher"].id
    client.put(f"/api/v1/agents/{researcher}/tools/{tool_id}", headers=owner,
               json={"policy": "ask"})
    assert client.delete(f"/api/v1/mcp/servers/{body['id']}", headers=owner).status_code == 204
    assert client.get("/api/v1/mcp/servers", headers=owner).json() == []
    assert mcp_only(client.get("/api/v1/mcp/tools", headers=owner).json()) == []
    db.rollback()
    assert service.policy_rows(db, tenant.id) == []


def test_a_tool_that_stops_being_read_only_asks_first_again(
        db: Session, tenant: Tenant, mcp_server: RunningServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server = service.add_server(db, tenant.id, name="bakery", url=mcp_server.url,
                                credential=TOKEN)
    service.refresh_tools(db, tenant.id, server.id)
    tool = next(t for t in server.tools if t.name == "stock_level")
    researcher = roster(db, tenant)["researcher"].id
    assert service.set_policy(db, tenant.id, researcher, tool.id, "default").policy == "allowed"
    listed = mcp_client.list_tools(service.target_of(server))
    changed = [mcp_client.ListedTool(t.name, t.description, t.input_schema, False, True)
               if t.name == "stock_level" else t for t in listed if t.name != "unmarked"]
    monkeypatch.setattr(mcp_client, "list_tools", lambda target: changed)
    service.refresh_tools(db, tenant.id, server.id)
    assert {t.name for t in server.tools} == {"stock_level", "place_order"}
    [row] = service.enabled_tools(db, tenant.id, researcher)
    assert row.tool.name == "stock_level" and row.policy == "ask"
    db.rollback()


def test_stdio_servers_come_only_from_the_server_admin(
        client: TestClient, db: Session, tenant: Tenant, tmp_path: object,
        monkeypatch: pytest.MonkeyPatch) -> None:
    owner = bearer(db, tenant)
    refused = client.post("/api/v1/mcp/servers", headers=owner,
                          json={"name": "local", "stdio_name": "bakery",
                                "command": "touch /tmp/pwned"})
    assert refused.status_code == 422 and "server admin" in refused.json()["detail"]
    from pathlib import Path

    monkeypatch.setenv("WEB4OS_MCP_STDIO_SERVERS", stdio_config(Path(str(tmp_path)) / "j"))
    get_settings.cache_clear()
    body = client.post("/api/v1/mcp/servers", headers=owner,
                       json={"name": "local", "stdio_name": "bakery"}).json()
    assert body["transport"] == "stdio" and body["status"] == "ok", body
    assert {t["name"] for t in body["tools"]} == {"stock_level", "place_order", "unmarked"}
    db.rollback()
    assert db.query(McpServer).filter_by(builtin="").one().url == ""


def test_the_client_works_from_a_thread_that_runs_an_event_loop(
        mcp_server: RunningServer) -> None:
    target = mcp_client.Target(url=mcp_server.url, headers={"Authorization": f"Bearer {TOKEN}"})

    async def inside_a_loop() -> list[str]:
        return [t.name for t in mcp_client.list_tools(target)]

    assert "stock_level" in run_coroutine(inside_a_loop)


def test_a_credential_goes_in_its_own_header_to_its_own_server(
        db: Session, tenant: Tenant, mcp_server: RunningServer) -> None:
    keyed = service.add_server(db, tenant.id, name="keyed", url=mcp_server.url,
                               auth_header="X-Api-Key", credential="k-123")
    bearer_only = service.add_server(db, tenant.id, name="bare", url=mcp_server.url,
                                     credential="t-456")
    plain = service.add_server(db, tenant.id, name="open", url=mcp_server.url)
    assert service.target_of(keyed).headers == {"X-Api-Key": "k-123"}
    assert service.target_of(bearer_only).headers == {"Authorization": "Bearer t-456"}
    assert service.target_of(plain).headers == {}
    for header, value in (("Host", "x"), ("Bad Header", "x"), ("X-Key", "a\r\nInjected: 1")):
        with pytest.raises(InvalidInput):
            service.add_server(db, tenant.id, name="bad", url=mcp_server.url,
                               auth_header=header, credential=value)
    db.rollback()

"""An MCP server's name that answers with a public address when checked and a loopback
one when connected to (DNS rebinding) gets no connection: the connection itself is
resolved through the address guard and pinned to what it vetted."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tests.factories import Tenant
from tests.support.net import ConnectGuard, FakeDNS, connect_guard, fake_dns
from web4os.tools import service
from web4os.tools.models import ServerStatus

__all__ = ["connect_guard", "fake_dns"]


def test_a_rebinding_name_is_refused_at_connection_time(
        db: Session, tenant: Tenant, fake_dns: FakeDNS, connect_guard: ConnectGuard) -> None:
    # registration check, the check before connecting: public; the connection: loopback
    fake_dns.sequence("mcp.rebind.test", ["93.184.216.34"], ["93.184.216.34"], ["127.0.0.1"])
    server = service.add_server(db, tenant.id, name="rebind",
                                url="http://mcp.rebind.test:8931/mcp")
    service.refresh_tools(db, tenant.id, server.id)
    assert server.status == ServerStatus.ERROR
    assert "loopback" in server.last_error, server.last_error
    assert connect_guard.connected == []  # nothing was opened to 127.0.0.1
    assert fake_dns.lookups.count("mcp.rebind.test") == 3
    db.rollback()

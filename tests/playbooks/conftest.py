"""Playbook tests: a resolver that knows only the tests' names (webhook and MCP URLs are
checked against the address guard), and an account with something in every section."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.factories import HeldQueue, Tenant, make_tenant
from tests.support.net import FakeDNS, connect_guard, fake_dns
from web4os.agents import notes
from web4os.agents import service as agents
from web4os.config import get_settings
from web4os.files import service as files
from web4os.goals import budgets
from web4os.goaltemplates import service as templates
from web4os.goaltemplates.schemas import TemplateIn
from web4os.routines import service as routines
from web4os.routines.schemas import RoutineIn
from web4os.tools import builtin
from web4os.tools import service as tools
from web4os.tools.models import McpTool
from web4os.webhooks import service as webhooks

__all__ = ["connect_guard", "fake_dns", "full_tenant"]

ENDPOINT = "https://models.example.test/v1"


@pytest.fixture(autouse=True)
def _jobs(held_queue: HeldQueue) -> HeldQueue:
    """Budgets changed by an import send a resume job: recorded here, not run."""
    return held_queue


@pytest.fixture
def full_tenant(db: Session, fake_dns: FakeDNS, monkeypatch: pytest.MonkeyPatch) -> Tenant:
    """An account with agents (one on its own endpoint), tool policies, an MCP server with
    a credential, web fetch on, notes, a knowledge file, a routine, budgets and a webhook."""
    fake_dns.set("hooks.example.test", "93.184.216.34")
    fake_dns.set("mcp.example.test", "93.184.216.35")
    monkeypatch.setenv("WEB4OS_MODEL_ENDPOINTS", f'{{"{ENDPOINT}": "EXAMPLE_KEY"}}')
    get_settings.cache_clear()
    t = make_tenant(db, "Rosie's Bakery")
    ctx = t.ctx()
    server = tools.add_server(db, t.id, name="crm", url="https://mcp.example.test/mcp",
                              auth_header="X-Api-Key", credential="very-secret-crm-key")
    server.tools.append(McpTool(account_id=t.id, name="find_customer", description="Look up",
                                input_schema={"type": "object"}, read_only=True,
                                destructive=False))
    db.flush()
    builtin.set_web_fetch(db, t.id, True)
    writer = agents.create_agent(db, t.id, slug="baker", name="Head Baker",
                                 role="Plans the week's bakes",
                                 instructions="Plan bakes from the orders.\nKeep waste low.",
                                 model="llama-3", base_url=ENDPOINT,
                                 tools=["notes"])
    agents.update_agent(db, t.id, writer.id, name=writer.name, role=writer.role,
                        instructions=writer.instructions, model=writer.model,
                        base_url=writer.base_url, enabled=True, credit_cap=250,
                        tools=["notes"])
    budgets.set_agent_budget(db, ctx, writer.id, 900)
    crm_tool = next(tl for tl in server.tools if tl.name == "find_customer")
    tools.set_policy(db, t.id, writer.id, crm_tool.id, "ask")
    state = builtin.web_fetch_state(db, t.id)
    assert state.tool_id is not None
    tools.set_policy(db, t.id, writer.id, state.tool_id, "allowed")
    budgets.set_account_budget(db, ctx, 4000, 70)
    notes.save_note(db, ctx, title="Opening hours", body="Tue to Sat, 8 to 17 (Sundays: ask)")
    prices = files.store(db, t.id, name="prices.txt", data=b"Sourdough 4.20\nRye 3.80\n",
                         goal_id=None)
    routines.save_routine(db, ctx, RoutineIn(title="Weekly specials", brief="Draft the post",
                                             preset="mondays", at="08:00",
                                             time_zone="Europe/London"))
    flyer = templates.create_template(db, ctx, TemplateIn(
        name="Market flyer", title="Draft the market-day flyer", brief="Prices from the list.",
        require_approval=True, credit_cap=120, attachments=[prices.id]))
    routines.save_routine(db, ctx, RoutineIn(title="Flyer every Friday", preset="cron",
                                             cron="0 7 * * 5", template_id=flyer.id))
    webhooks.create_endpoint(db, t.id, url="https://hooks.example.test/in",
                             events=["goal.completed", "card.failed"], description="Zapier")
    db.commit()
    return t

"""Importing the roster side of a playbook: MCP servers and their tools, the web fetch
switch, agents, and each agent's tool policies. Agents are checked by the agent form's
own rules (``agents.service``), so the same messages appear."""

from __future__ import annotations

from sqlalchemy.orm import Session

from web4os.agents import service as agents
from web4os.agents.models import Agent
from web4os.errors import DomainError, InvalidInput
from web4os.goals import budgets
from web4os.netguard import AddressRefused, check_public_url
from web4os.playbooks.plan import Action, OnCollision, Run, free_handle, free_name
from web4os.playbooks.schemas import AgentEntry, McpServerEntry
from web4os.tenancy import AccountId, scoped
from web4os.tools import builtin, client
from web4os.tools import service as tools
from web4os.tools.models import AgentToolPolicy, McpServer, McpTool

AGENT_FIELDS = {"slug": "handle", "base_url": "endpoint"}


def _check_url(url: str) -> None:
    try:
        check_public_url(url)
    except AddressRefused as exc:
        raise InvalidInput(exc.message, field="url") from None


def _check_server(run: Run, i: int, entry: McpServerEntry) -> bool:
    path = ("mcp_servers", i)
    before = len(run.problems)
    run.check(path, lambda: tools.check_server_name(entry.name))
    if bool(entry.url) == bool(entry.command):
        run.problems.append(run.doc.problem(path, "Give the server either a url or a command."))
    elif entry.url:
        run.check(path, lambda: _check_url(entry.url))
    return len(run.problems) == before


def _add_tools(session: Session, server: McpServer, entry: McpServerEntry) -> None:
    known = {t.name for t in server.tools}
    for t in entry.tools:
        if t.name not in known:
            server.tools.append(McpTool(account_id=server.account_id, name=t.name,
                                        description=t.description, input_schema=t.input_schema,
                                        read_only=t.read_only, destructive=t.destructive))
    session.flush()


def _create_server(run: Run, name: str, entry: McpServerEntry) -> McpServer | None:
    aid = run.ctx.account_id
    if entry.command:
        try:
            client.stdio_params(entry.command)
        except DomainError:
            run.add("mcp_servers", entry.name, Action.SKIP,
                    f"The stdio server “{entry.command}” is not configured on this server.")
            return None
    run.add("mcp_servers", name, Action.CREATE,
            f"renamed from {entry.name}" if name != entry.name else entry.url or entry.command)
    if not run.apply:
        return None
    server = tools.add_server(run.session, aid, name=name, url=entry.url,
                              stdio_name=entry.command)
    server.enabled, server.auth_header = entry.enabled, entry.auth_header
    _add_tools(run.session, server, entry)
    return server


def import_servers(run: Run) -> None:
    servers = run.doc.playbook.mcp_servers
    run.duplicates("mcp_servers", [s.name for s in servers], "MCP servers")
    existing = {s.name: s for s in tools.list_servers(run.session, run.ctx.account_id)}
    taken = set(existing) | {builtin.SERVER_NAME}
    for i, entry in enumerate(servers):
        if not _check_server(run, i, entry):
            continue
        name = entry.name
        if name in existing and run.policy == OnCollision.RENAME:
            name = free_handle(name, taken)
        elif name in existing:
            run.server_names[entry.name] = name
            action = Action.SKIP if run.policy == OnCollision.SKIP else Action.CHANGE
            run.add("mcp_servers", name, action,
                    "already in the account" if action == Action.SKIP else "replaced")
            if action == Action.CHANGE and run.apply:
                server = existing[name]
                if server.url != entry.url:
                    server.credential_encrypted = ""
                server.url, server.stdio_name = entry.url, entry.command
                server.enabled, server.auth_header = entry.enabled, entry.auth_header
                _add_tools(run.session, server, entry)
            continue
        taken.add(name)
        run.server_names[entry.name] = name
        _create_server(run, name, entry)
        if entry.url:
            run.fill.append(f"MCP server {name}: credentials"
                            + (f" ({entry.auth_header} header)" if entry.auth_header else ""))


def import_web_fetch(run: Run) -> None:
    wanted = run.doc.playbook.web_fetch.enabled
    state = builtin.web_fetch_state(run.session, run.ctx.account_id)
    refs = any(k.startswith(f"{builtin.SERVER_NAME}.{builtin.WEB_FETCH}")
               for a in run.doc.playbook.roster for k in a.tool_policies)
    if state.enabled == wanted and (state.tool_id is not None or not refs):
        return
    if not state.available:
        run.add("web_fetch", "web fetch", Action.SKIP, "turned off on this server")
        return
    if run.policy == OnCollision.SKIP and state.tool_id is not None:
        run.add("web_fetch", "web fetch", Action.SKIP, "kept as the account has it")
        return
    run.add("web_fetch", "web fetch", Action.CHANGE, "on" if wanted else "off")
    if run.apply:
        builtin.set_web_fetch(run.session, run.ctx.account_id, True)  # its tool exists
        builtin.set_web_fetch(run.session, run.ctx.account_id, wanted)


def _check_agent(run: Run, i: int, entry: AgentEntry) -> bool:
    path, before = ("roster", i), len(run.problems)
    run.check(path, lambda: agents.check_slug(entry.handle), AGENT_FIELDS)
    run.check(path, lambda: agents.check_agent_fields(entry.name, entry.role, entry.instructions,
                                                      entry.model, entry.endpoint), AGENT_FIELDS)
    run.check(path, lambda: agents.check_tools(list(entry.tools)))
    listed = {(s.name, t.name) for s in run.doc.playbook.mcp_servers for t in s.tools}
    listed |= {(builtin.SERVER_NAME, builtin.WEB_FETCH), (builtin.SERVER_NAME, builtin.READ_FILE)}
    for key in entry.tool_policies:
        server, _, tool = key.partition(".")
        if (server, tool) not in listed:
            run.problems.append(run.doc.problem(
                (*path, "tool_policies", key),
                f"There is no tool “{key}” among the playbook's MCP servers' tools."))
    if sum(a.ceo for a in run.doc.playbook.roster) > 1:
        run.problems.append(run.doc.problem(path, "A roster has one CEO."))
    return len(run.problems) == before


def _save_agent(run: Run, entry: AgentEntry, agent: Agent | None, slug: str, name: str,
                ) -> None:
    aid = run.ctx.account_id
    if agent is None:
        agent = agents.create_agent(run.session, aid, slug=slug, name=name, role=entry.role,
                                    instructions=entry.instructions, model=entry.model,
                                    base_url=entry.endpoint, tools=list(entry.tools))
    agents.update_agent(run.session, aid, agent.id, name=name, role=entry.role,
                        instructions=entry.instructions, model=entry.model,
                        base_url=entry.endpoint, enabled=entry.enabled or agent.is_ceo,
                        credit_cap=entry.credit_cap, tools=list(entry.tools))
    if agent.monthly_budget != entry.monthly_budget:
        budgets.set_agent_budget(run.session, run.ctx, agent.id, entry.monthly_budget)
    _set_policies(run, agent, entry)


def _set_policies(run: Run, agent: Agent, entry: AgentEntry) -> None:
    aid = run.ctx.account_id
    rows = list(run.session.scalars(scoped(AgentToolPolicy, aid)
                                    .where(AgentToolPolicy.agent_id == agent.id)))
    for row in rows:
        run.session.delete(row)
    run.session.flush()
    for key, policy in entry.tool_policies.items():
        server_name, _, tool_name = _account_key(run, key).partition(".")
        tool = _tool(run.session, aid, server_name, tool_name)
        if tool is None:
            run.fill.append(f"agent {agent.name}: the tool “{key}” is not listed yet; set its "
                            "policy once its server lists it")
            continue
        run.session.add(AgentToolPolicy(account_id=aid, agent_id=agent.id, tool_id=tool.id,
                                        policy=policy))
    run.session.flush()


def _tool(session: Session, account_id: AccountId, server: str, name: str) -> McpTool | None:
    return session.scalars(scoped(McpTool, account_id).join(
        McpServer, McpServer.id == McpTool.server_id).where(
        McpServer.name == server, McpTool.name == name)).first()


def _account_key(run: Run, key: str) -> str:
    """A playbook's "server.tool" as the account names it (its server may be renamed)."""
    server, _, tool = key.partition(".")
    return f"{run.server_names.get(server, server)}.{tool}"


def _same(run: Run, agent: Agent, entry: AgentEntry) -> bool:
    """Whether the account's agent already reads as the entry (nothing to import)."""
    policies = {row.tool.qualified_name: row.policy for row in run.session.scalars(
        scoped(AgentToolPolicy, run.ctx.account_id).where(AgentToolPolicy.agent_id == agent.id))}
    wanted = {_account_key(run, k): v for k, v in entry.tool_policies.items()}
    return (agent.name, agent.role, agent.instructions, agent.model, agent.base_url,
            list(agent.tools or []), agent.enabled, agent.credit_cap, agent.monthly_budget,
            policies) == (entry.name, entry.role, entry.instructions.strip(), entry.model,
                          entry.endpoint, list(entry.tools), entry.enabled, entry.credit_cap,
                          entry.monthly_budget, wanted)


def import_roster(run: Run) -> None:
    roster = run.doc.playbook.roster
    run.duplicates("roster", [a.handle for a in roster], "agents")
    current = agents.list_agents(run.session, run.ctx.account_id)
    by_slug = {a.slug: a for a in current}
    names, slugs = {a.name for a in current}, set(by_slug)
    for i, entry in enumerate(roster):
        if not _check_agent(run, i, entry):
            continue
        found = (next((a for a in current if a.is_ceo), None) if entry.ceo
                 else by_slug.get(entry.handle) or next(
                     (a for a in current if a.name.lower() == entry.name.lower()), None))
        if found is not None and _same(run, found, entry):
            run.add("roster", found.name, Action.SKIP, "already the same")
        elif found is None or (run.policy == OnCollision.RENAME and not entry.ceo):
            slug, name = free_handle(entry.handle, slugs), free_name(entry.name, names, limit=80)
            slugs.add(slug)
            names.add(name)
            run.add("roster", name, Action.CREATE,
                    f"renamed from {entry.name}" if name != entry.name else entry.role)
            if run.apply:
                _save_agent(run, entry, None, slug, name)
        elif run.policy == OnCollision.SKIP:
            run.add("roster", found.name, Action.SKIP, "already in the roster")
        else:
            run.add("roster", entry.name, Action.CHANGE, f"replaces {found.name}")
            if run.apply:
                _save_agent(run, entry, found, found.slug, entry.name)
        if entry.endpoint:
            run.fill.append(f"agent {entry.name}: API key for {entry.endpoint} (the server "
                            "admin sets it with WEB4OS_MODEL_ENDPOINTS)")

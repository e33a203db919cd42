"""Writing an account's setup as a playbook: the roster, tools, knowledge, routines,
budgets and webhooks, with every secret left out and listed to fill in instead.

The document is deterministic (agents by handle with the CEO first, the rest by name),
so exporting the same setup twice gives the same text, whichever account holds it.
"""

from __future__ import annotations

import base64
import enum
from typing import Any, Literal

import yaml
from sqlalchemy.orm import Session

from web4os.accounts.models import Account
from web4os.agents import notes as notes_service
from web4os.agents.service import list_agents
from web4os.files import service as files
from web4os.goaltemplates import service as templates
from web4os.playbooks.schemas import (
    AccountSettings,
    AgentEntry,
    Budgets,
    FileEntry,
    McpServerEntry,
    McpToolEntry,
    NoteEntry,
    Playbook,
    RoutineEntry,
    TemplateEntry,
    WebFetch,
    WebhookEntry,
)
from web4os.routines import schedule
from web4os.routines.service import list_routines
from web4os.tenancy import AccountId
from web4os.tools import builtin
from web4os.tools import service as tools
from web4os.webhooks.service import list_endpoints

FilesChoice = Literal["reference", "embed"]
FILE_CHOICES: tuple[FilesChoice, ...] = ("reference", "embed")


def to_fill_in(playbook: Playbook) -> list[str]:
    """The secrets a playbook leaves out, one line each, for whoever imports it."""
    out = [f"agent {a.name}: API key for {a.endpoint} (the server admin sets it with "
           "WEB4OS_MODEL_ENDPOINTS)" for a in playbook.roster if a.endpoint]
    out += [f"MCP server {s.name}: credentials" + (f" ({s.auth_header} header)"
                                                    if s.auth_header else "")
            for s in playbook.mcp_servers if s.url]
    out += [f"MCP server {s.name}: the server admin configures the stdio server "
            f"“{s.command}” (WEB4OS_MCP_STDIO_SERVERS)" for s in playbook.mcp_servers
            if s.command]
    out += [f"file {f.name}: upload it ({f.size:,} bytes, sha256 {f.sha256[:12]}…)"
            for f in playbook.files if f.content_base64 is None]
    out += [f"webhook {w.url}: a new signing secret is generated; give it to the receiver"
            for w in playbook.webhooks]
    return out


def _agents(session: Session, account_id: AccountId) -> list[AgentEntry]:
    policies: dict[int, dict[str, Any]] = {}
    for row in tools.policy_rows(session, account_id):
        policies.setdefault(row.agent_id, {})[row.tool.qualified_name] = row.policy
    agents = sorted(list_agents(session, account_id), key=lambda a: (not a.is_ceo, a.slug))
    return [AgentEntry(
        handle=a.slug, name=a.name, role=a.role, ceo=a.is_ceo, enabled=a.enabled,
        instructions=a.instructions, model=a.model, endpoint=a.base_url,
        tools=list(a.tools or []), tool_policies=dict(sorted(policies.get(a.id, {}).items())),
        credit_cap=a.credit_cap, monthly_budget=a.monthly_budget) for a in agents]


def _servers(session: Session, account_id: AccountId) -> list[McpServerEntry]:
    return [McpServerEntry(
        name=s.name, url=s.url, command=s.stdio_name, enabled=s.enabled,
        auth_header=s.auth_header,
        tools=[McpToolEntry(name=t.name, description=t.description, read_only=t.read_only,
                            destructive=t.destructive, input_schema=t.input_schema or {})
               for t in s.tools]) for s in tools.list_servers(session, account_id)]


def _files(session: Session, account_id: AccountId, choice: FilesChoice) -> list[FileEntry]:
    rows = sorted(files.list_files(session, account_id, knowledge=True), key=lambda f: f.name)
    return [FileEntry(name=f.name, size=f.size, sha256=f.sha256,
                      content_base64=base64.b64encode(files.read_bytes(f)).decode("ascii")
                      if choice == "embed" else None) for f in rows]


def _templates(session: Session, account_id: AccountId) -> tuple[list[TemplateEntry], list[str]]:
    """The live templates, attaching knowledge files by name; a goal's file a template
    attaches is not carried (it is listed)."""
    out, left = [], []
    for t in templates.list_templates(session, account_id):
        attached = templates.attached_files(session, account_id, t)
        left += [f"template {t.name}: attach “{f.name}” (a goal's file, not in the playbook)"
                 for f in attached if not f.is_knowledge]
        out.append(TemplateEntry(name=t.name, title=t.title, brief=t.brief,
                                 require_approval=t.require_approval, credit_cap=t.credit_cap,
                                 attachments=[f.name for f in attached if f.is_knowledge]))
    return out, left


def _routines(session: Session, account_id: AccountId) -> list[RoutineEntry]:
    names = {t.id: t.name for t in templates.list_templates(session, account_id)}
    return [RoutineEntry(
        title=r.title, template=names.get(r.template_id or 0, ""), brief=r.brief,
        preset=r.preset,
        at=schedule.at_of(r.cron) if r.preset != "cron" else "09:00",
        cron=r.cron if r.preset == "cron" else "", time_zone=r.time_zone,
        require_approval=r.require_approval, credit_cap=r.credit_cap,
        missed_policy=r.missed_policy, overlap_policy=r.overlap_policy)
        for r in sorted(list_routines(session, account_id), key=lambda r: (r.title, r.id))]


def build(session: Session, account_id: AccountId, *, files_choice: FilesChoice = "reference",
          ) -> Playbook:
    """The account's setup as a playbook (no secret in it)."""
    account = session.get(Account, account_id)
    assert account is not None
    template_entries, left_out = _templates(session, account_id)
    playbook = Playbook(
        playbook=1, name=account.name,
        account=AccountSettings(time_zone=account.time_zone,
                                low_credit_threshold=account.low_credit_threshold),
        budgets=Budgets(monthly=account.monthly_budget,
                        warn_percent=account.budget_warn_percent),
        roster=_agents(session, account_id), mcp_servers=_servers(session, account_id),
        web_fetch=WebFetch(enabled=builtin.web_fetch_state(session, account_id).enabled),
        notes=[NoteEntry(title=n.title, body=n.body) for n in sorted(
            notes_service.list_notes(session, account_id), key=lambda n: (n.title, n.id))],
        files=_files(session, account_id, files_choice), templates=template_entries,
        routines=_routines(session, account_id),
        webhooks=[WebhookEntry(url=w.url, events=list(w.events), description=w.description,
                               enabled=w.enabled) for w in list_endpoints(session, account_id)])
    playbook.to_fill_in = to_fill_in(playbook) + left_out
    return playbook


class _Dumper(yaml.SafeDumper):
    """Block style, multi-line text as literal blocks, keys in the models' order."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value and not value.endswith((" ", "\t")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _enum(dumper: yaml.SafeDumper, value: enum.Enum) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value.value))


_Dumper.add_representer(str, _text)
_Dumper.add_multi_representer(enum.Enum, _enum)


def dump(playbook: Playbook) -> str:
    """The playbook as YAML text: the defaults left out, so it reads like a hand-written one."""
    data = playbook.model_dump(mode="json", exclude_defaults=True)
    data = {"playbook": playbook.playbook, **data}
    header = ("# web4os playbook: an account's setup (https://web4os.dev/schemas/playbook-1.json)\n"
              "# Secrets are not in this file; see to_fill_in.\n")
    return header + yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                              width=100, default_flow_style=False)


def export_text(session: Session, account_id: AccountId, *,
                files_choice: FilesChoice = "reference") -> str:
    return dump(build(session, account_id, files_choice=files_choice))

"""The agent roster of an account: create defaults, list, edit, disable."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from web4os.agents.models import Agent
from web4os.agents.providers import endpoint_allowed
from web4os.agents.roster import DEFAULT_ROSTER
from web4os.errors import Conflict, InvalidInput, NotFound
from web4os.tenancy import AccountId, get_owned, in_account, of_account, scoped

DEFAULT_TOOLS = ("read_goal_outputs", "notes")


def check_tools(names: list[str]) -> list[str]:
    """Known tool names, each once, in a stable order."""
    from web4os.agents.tools import CATALOGUE as TOOLS

    unknown = [n for n in names if n not in TOOLS]
    if unknown:
        raise InvalidInput(f"There is no tool called “{unknown[0]}”.", field="tools")
    return [n for n in TOOLS if n in names]


def create_default_roster(session: Session, account_id: AccountId) -> list[Agent]:
    """Give a new account its CEO and five specialists."""
    agents = [
        Agent(account_id=account_id, slug=s.slug, name=s.name, role=s.role,
              instructions=s.instructions, is_ceo=s.is_ceo, tools=list(DEFAULT_TOOLS))
        for s in DEFAULT_ROSTER
    ]
    session.add_all(agents)
    session.flush()
    return agents


def list_agents(session: Session, account_id: AccountId, *, enabled_only: bool = False) -> list[Agent]:
    """The account's roster, CEO first."""
    stmt = scoped(Agent, account_id).order_by(Agent.is_ceo.desc(), Agent.id)
    if enabled_only:
        stmt = stmt.where(Agent.enabled.is_(True))
    return list(session.scalars(stmt))


def specialists(session: Session, account_id: AccountId) -> list[Agent]:
    """Enabled agents that can be assigned tasks (everyone but the CEO)."""
    return [a for a in list_agents(session, account_id, enabled_only=True) if not a.is_ceo]


_CEO = select(Agent).where(in_account(Agent), Agent.is_ceo.is_(True))


def ceo(session: Session, account_id: AccountId) -> Agent:
    """The account's CEO agent."""
    agent = session.scalars(_CEO, {"tenant": account_id}).first()
    if agent is None:
        raise NotFound("This account has no CEO agent.")
    return agent


def get_agent(session: Session, account_id: AccountId, agent_id: int) -> Agent:
    return get_owned(session, Agent, agent_id, account_id)


_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# A tag or comment of markup: agents' words are plain text, shown escaped and sent to
# models as written, so markup in them is a paste gone wrong or an injection attempt.
_MARKUP_RE = re.compile(r"<\s*/?\s*[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?\s*>|<!--")


def check_slug(slug: str) -> str:
    """A handle as typed, lower-cased, or the refusal that names the field."""
    slug = slug.strip().lower()
    if not _SLUG_RE.match(slug):
        raise InvalidInput("Use lower-case letters, digits, - or _ for the handle (max 40).",
                           field="slug")
    return slug


def _no_markup(text: str, field: str) -> None:
    found = _MARKUP_RE.search(text)
    if found is not None:
        raise InvalidInput(f"Write plain text, without HTML: remove “{found.group()[:40]}”.",
                           field=field)


def check_agent_fields(name: str, role: str, instructions: str, model: str,
                       base_url: str) -> None:
    """The agent form's rules, for every way an agent is made (form, API, playbook)."""
    _clean(name, role, instructions, model, base_url)
    for field, text in (("name", name), ("role", role), ("instructions", instructions)):
        _no_markup(text, field)


def _clean(name: str, role: str, instructions: str, model: str, base_url: str) -> None:
    if not name.strip():
        raise InvalidInput("Give the agent a name.", field="name")
    if len(name) > 80:
        raise InvalidInput("Keep the name under 80 characters.", field="name")
    if not role.strip() or len(role) > 200:
        raise InvalidInput("Describe the agent's role in under 200 characters.", field="role")
    if len(instructions) > 8000:
        raise InvalidInput("Keep instructions under 8,000 characters.", field="instructions")
    if len(model) > 120:
        raise InvalidInput("That model name is too long.", field="model")
    if base_url and not re.match(r"^https?://", base_url):
        raise InvalidInput("The endpoint must start with http:// or https://.", field="base_url")
    if len(base_url) > 500:
        raise InvalidInput("That endpoint address is too long.", field="base_url")
    if base_url and not endpoint_allowed(base_url):
        raise InvalidInput("This server doesn't allow that endpoint. Leave it empty for the "
                           "default model, or ask your admin to add it to "
                           "WEB4OS_MODEL_ENDPOINTS.", field="base_url")


def create_agent(
    session: Session, account_id: AccountId, *, slug: str, name: str, role: str,
    instructions: str = "", model: str = "", base_url: str = "",
    tools: list[str] | None = None,
) -> Agent:
    """Add a specialist to the roster (with every tool unless ``tools`` says otherwise)."""
    slug = check_slug(slug)
    check_agent_fields(name, role, instructions, model, base_url)
    exists = session.scalar(scoped(Agent, account_id).where(Agent.slug == slug))
    if exists is not None:
        raise Conflict(f"An agent called “{slug}” already exists.", field="slug")
    agent = Agent(account_id=account_id, slug=slug, name=name.strip(), role=role.strip(),
                  instructions=instructions.strip(), model=model.strip(),
                  base_url=base_url.strip(),
                  tools=check_tools(tools) if tools is not None else list(DEFAULT_TOOLS))
    session.add(agent)
    session.flush()
    return agent


def update_agent(
    session: Session, account_id: AccountId, agent_id: int, *, name: str, role: str,
    instructions: str, model: str, base_url: str, enabled: bool,
    credit_cap: int | None = None, tools: list[str] | None = None,
) -> Agent:
    """Edit an agent; the CEO cannot be disabled (nothing would plan).

    ``tools`` None keeps the agent's tools as they are."""
    agent = get_agent(session, account_id, agent_id)
    check_agent_fields(name, role, instructions, model, base_url)
    if agent.is_ceo and not enabled:
        raise InvalidInput("The CEO agent plans every goal and cannot be disabled.",
                           field="enabled")
    if credit_cap is not None and credit_cap < 1:
        raise InvalidInput("A credit cap must be at least 1 (or empty for none).",
                           field="credit_cap")
    new_tools = check_tools(tools) if tools is not None else list(agent.tools or [])
    agent.name, agent.role = name.strip(), role.strip()
    agent.instructions, agent.model, agent.base_url = instructions.strip(), model.strip(), base_url.strip()
    agent.enabled = enabled
    agent.credit_cap = credit_cap
    agent.tools = new_tools
    session.flush()
    return agent


def agents_by_id(session: Session, account_id: AccountId) -> dict[int, Agent]:
    """All the account's agents keyed by id (one query, for rendering boards)."""
    return {a.id: a for a in session.scalars(select(Agent).where(of_account(Agent, account_id)))}

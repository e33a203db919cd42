"""A playbook document, version 1: an account's setup as YAML, checked by these models.

The JSON Schema published at ``/api/v1/playbooks/schema`` (and shipped as ``schema.json``)
is generated from them. Fields carry no secrets: API keys, MCP credentials and webhook
signing secrets have no field here, so a document cannot hold one by mistake.
Every text field is held to the text rule (``Text``), so a name with a control character
is refused with the field's path; the services' own rules (the agent form's, the
routine form's) are applied when the plan is made.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from web4os.credits.caps import MAX_CAP
from web4os.routines.models import MissedPolicy, OverlapPolicy
from web4os.text import TEXT_TREE, Text
from web4os.tools.models import ToolPolicy

VERSION = 1
Credits = Annotated[int, Field(ge=1, le=MAX_CAP)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Section(BaseModel):
    """Unknown keys are refused, so a misspelt field is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class AccountSettings(Section):
    time_zone: Text = Field(default="UTC", max_length=64,
                            description="IANA zone: routines fire and budgets reset on it.")
    low_credit_threshold: int = Field(default=100, ge=0, le=MAX_CAP,
                                      description="Members hear once below this balance.")


class Budgets(Section):
    monthly: Credits | None = Field(default=None,
                                    description="Credits per calendar month; none: no budget.")
    warn_percent: int = Field(default=80, ge=1, le=100)


class AgentEntry(Section):
    """One agent. ``model``/``endpoint`` empty: the account default. The endpoint's API
    key is never written; it is listed to fill in."""

    handle: Text = Field(max_length=40, description="Lower-case letters, digits, - or _.")
    name: Text = Field(max_length=80)
    role: Text = Field(max_length=200)
    ceo: bool = False
    enabled: bool = True
    instructions: Text = Field(default="", max_length=8000)
    model: Text = Field(default="", max_length=120)
    endpoint: Text = Field(default="", max_length=500)
    tools: list[Text] = Field(default_factory=lambda: ["read_goal_outputs", "notes"],
                              max_length=20)
    tool_policies: dict[Text, ToolPolicy] = Field(
        default_factory=dict, max_length=500,
        description="“server.tool” → allowed or ask (the built-in server is “web4os”).")
    credit_cap: Credits | None = None
    monthly_budget: Credits | None = None


class McpToolEntry(Section):
    """A tool the server listed, so agents' policies can refer to it before it is
    listed again here."""

    name: Text = Field(max_length=120)
    description: Text = Field(default="", max_length=4000)
    read_only: bool = False
    destructive: bool = True
    input_schema: Annotated[dict[str, Any], TEXT_TREE] = Field(default_factory=dict)


class McpServerEntry(Section):
    """A streamable-HTTP server (``url``) or a stdio server the server admin configured
    (``command``: its name in the settings). Credentials are never written."""

    name: Text = Field(max_length=40)
    url: Text = Field(default="", max_length=500)
    command: Text = Field(default="", max_length=60)
    enabled: bool = True
    auth_header: Text = Field(default="", max_length=80,
                              description="The header the credential goes in (not the credential).")
    tools: list[McpToolEntry] = Field(default_factory=list, max_length=500)


class WebFetch(Section):
    enabled: bool = False


class NoteEntry(Section):
    title: Text = Field(max_length=200)
    body: Text = Field(default="", max_length=20_000)


class FileEntry(Section):
    """A knowledge file: by reference (name, size, sha256) or with its bytes
    (``content_base64``)."""

    name: Text = Field(max_length=200)
    size: int = Field(ge=0)
    sha256: Sha256
    content_base64: str | None = Field(default=None, pattern=r"^[A-Za-z0-9+/=\s]*$")


class TemplateEntry(Section):
    """A goal template; ``attachments`` name knowledge files (of this playbook or the
    account)."""

    name: Text = Field(max_length=120)
    title: Text = Field(max_length=200)
    brief: Text = Field(default="", max_length=20_000)
    require_approval: bool = False
    credit_cap: Credits | None = None
    attachments: list[Text] = Field(default_factory=list, max_length=20)


class RoutineEntry(Section):
    """A routine; imported routines start paused. ``preset`` is weekdays, daily, mondays,
    monthly (at ``at``) or cron (``cron``); ``time_zone`` empty: the account's. With
    ``template`` (a template's name) each run starts its goal from that template."""

    title: Text = Field(max_length=200)
    template: Text = Field(default="", max_length=120)
    brief: Text = Field(default="", max_length=20_000)
    preset: Text = Field(default="weekdays", max_length=20)
    at: Text = Field(default="09:00", max_length=5)
    cron: Text = Field(default="", max_length=120)
    time_zone: Text = Field(default="", max_length=64)
    require_approval: bool = False
    credit_cap: Credits | None = None
    missed_policy: MissedPolicy = MissedPolicy.SKIP
    overlap_policy: OverlapPolicy = OverlapPolicy.SKIP


class WebhookEntry(Section):
    """An endpoint; a new signing secret is made on import (listed to fill in)."""

    url: Text = Field(max_length=500)
    events: list[Text] = Field(min_length=1, max_length=50)
    description: Text = Field(default="", max_length=200)
    enabled: bool = True


class Playbook(Section):
    """An account's setup, version 1."""

    model_config = ConfigDict(extra="forbid", title="web4os playbook")

    playbook: Literal[1] = Field(description="The format's version.")
    name: Text = Field(default="", max_length=120)
    description: Text = Field(default="", max_length=2000)
    account: AccountSettings = Field(default_factory=AccountSettings)
    budgets: Budgets = Field(default_factory=Budgets)
    roster: list[AgentEntry] = Field(default_factory=list, max_length=100)
    mcp_servers: list[McpServerEntry] = Field(default_factory=list, max_length=50)
    web_fetch: WebFetch = Field(default_factory=WebFetch)
    notes: list[NoteEntry] = Field(default_factory=list, max_length=1000)
    files: list[FileEntry] = Field(default_factory=list, max_length=200)
    templates: list[TemplateEntry] = Field(default_factory=list, max_length=200)
    routines: list[RoutineEntry] = Field(default_factory=list, max_length=200)
    webhooks: list[WebhookEntry] = Field(default_factory=list, max_length=50)
    to_fill_in: list[Text] = Field(
        default_factory=list, max_length=1000,
        description="What the export left out (secrets); informational, not imported.")


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of version 1."""
    schema = Playbook.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://web4os.dev/schemas/playbook-1.json"
    return schema

"""Safe tools for specialists, and the account's knowledge notes they read.

This module is the catalogue (what each tool is, for the roster and for models that
call functions); ``goals.tools`` runs them. A tool is a read-only function over the
database that gets a ``ToolScope`` (account, goal, task) built from the card row, never from
model output: every query filters by ``scope.account_id`` through ``scoped()``,
so no argument a model invents can reach another account's rows.

Tools run as *context providers*: before a specialist is called, each tool on
its roster entry (``Agent.tools``) runs once and its result is put into the
prompt. That works with every model, including the offline one and small local
models without function calling. Each run that returns something is metered
(``cost_of_tool_run``) and recorded as a ``tool_run`` event on the card; an
empty result is free.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, String, bindparam, or_, select
from sqlalchemy.orm import Session

from web4os.agents.models import Note
from web4os.agents.providers.base import ToolCall, ToolSpec
from web4os.db import table_of
from web4os.errors import InvalidInput
from web4os.tenancy import AccountId, in_account

NOTE_PROMPT_LIMIT = 20
NOTE_CHARS = 800


@dataclass(frozen=True)
class ToolScope:
    """What a tool may see: one account, one goal, from the point of view of one task."""

    account_id: AccountId
    goal_id: int
    task_id: int
    skip_task_ids: frozenset[int] = frozenset()  # e.g. inputs already in the prompt


@dataclass(frozen=True)
class ToolResult:
    """A tool's answer: lines for the prompt, and how many items were found."""

    lines: list[str]

    @property
    def items(self) -> int:
        return len(self.lines)


@dataclass(frozen=True)
class ToolRun:
    """One metered run of a tool for a task."""

    tool: str
    result: ToolResult
    credits: int
    args: dict[str, Any] = field(default_factory=dict)

    def as_event_data(self) -> dict[str, object]:
        return {"tool": self.tool, "items": self.result.items, "credits": self.credits,
                "args": self.args}


@dataclass(frozen=True)
class ToolInfo:
    """What a tool is: shown on the agents page and offered to models as a function."""

    name: str
    label: str
    description: str
    parameters: dict[str, Any]  # JSON schema of its arguments


def _one_optional_filter(name: str, max_length: int, description: str) -> dict[str, Any]:
    """JSON schema of a tool's arguments: one optional text that narrows what it reads."""
    return {
        "type": "object",
        "properties": {name: {"type": "string", "maxLength": max_length,
                              "description": description}},
        "additionalProperties": False,
    }


GOAL_OUTPUTS = ToolInfo(
    name="read_goal_outputs",
    label="Read other results of this goal",
    description="Read what other specialists already delivered for this goal.",
    parameters=_one_optional_filter("task_key", 40, "Only this task's result (optional)."),
)
NOTES = ToolInfo(
    name="notes",
    label="Read the account's notes",
    description="Read the business knowledge the operator keeps for the agents.",
    parameters=_one_optional_filter("query", 100, "Only notes mentioning this (optional)."),
)
CATALOGUE: dict[str, ToolInfo] = {t.name: t for t in (GOAL_OUTPUTS, NOTES)}


def read_notes(session: Session, scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """The account's knowledge notes, newest first (only those mentioning ``query``)."""
    query = str(args.get("query") or "").strip()[:100]
    rows = session.execute(_notes_stmt(bool(query)),
                           {"tenant": scope.account_id, "like": f"%{query}%"})
    return ToolResult([f"{title}: {' '.join(body.split())[:NOTE_CHARS]}"
                       for title, body in rows])


@functools.cache
def _notes_stmt(by_query: bool) -> Select[str, str]:
    notes = table_of(Note)
    n = notes.c
    stmt = select(n.title, n.body).where(in_account(notes))
    if by_query:
        like = bindparam("like", type_=String)
        stmt = stmt.where(or_(n.title.ilike(like), n.body.ilike(like)))
    return stmt.order_by(n.updated_at.desc(), n.id.desc()).limit(NOTE_PROMPT_LIMIT)


def tool_specs(names: Sequence[str]) -> list[ToolSpec]:
    """The agent's tools as functions a tool-calling model can be offered."""
    return [ToolSpec(CATALOGUE[n].name, CATALOGUE[n].description, CATALOGUE[n].parameters)
            for n in dict.fromkeys(names) if n in CATALOGUE]


def call_arguments(call: ToolCall, allowed: Sequence[str]) -> dict[str, str]:
    """The arguments of a tool call the model made: only the agent's own tools, only the
    string arguments the tool declares (anything else the model invents is dropped)."""
    if call.name not in allowed or call.name not in CATALOGUE:
        raise InvalidInput(f"This agent has no tool called “{call.name}”.", field="tools")
    try:
        raw = json.loads(call.arguments or "{}")
    except ValueError:
        raw = {}
    declared = CATALOGUE[call.name].parameters.get("properties", {})
    return {k: str(v)[:100] for k, v in (raw.items() if isinstance(raw, dict) else [])
            if k in declared and isinstance(v, str | int)}

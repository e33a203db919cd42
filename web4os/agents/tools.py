"""Safe tools for specialists, and the account's knowledge notes they read.

A tool is a read-only function over the database that gets a ``ToolScope``
(account, goal, task) built by the worker from the task row itself, never from
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
from typing import Any, Protocol

from sqlalchemy import Select, String, bindparam, func, or_, select
from sqlalchemy.orm import Session

from web4os.agents.models import Agent, Note
from web4os.agents.providers.base import ToolCall, ToolSpec
from web4os.credits.pricing import cost_of_tool_run
from web4os.db import table_of
from web4os.errors import InvalidInput
from web4os.tenancy import AccountId, TenantContext, get_owned, in_account, scoped

NOTE_PROMPT_LIMIT = 20
NOTE_CHARS = 800
OUTPUT_DOCS = 8
OUTPUT_CHARS = 1500


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


class Tool(Protocol):
    """A read-only capability a specialist may use."""

    name: str
    label: str
    description: str
    parameters: dict[str, Any]  # JSON schema of its arguments (for function calling)

    def run(self, session: Session, scope: ToolScope, args: dict[str, Any]) -> ToolResult: ...


class ReadGoalOutputs:
    """Outputs of the other finished tasks of the same goal (same account only)."""

    name = "read_goal_outputs"
    label = "Read other results of this goal"
    description = "Read what other specialists already delivered for this goal."
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {"task_key": {"type": "string", "maxLength": 40,
                                    "description": "Only this task's result (optional)."}},
        "additionalProperties": False,
    }

    def run(self, session: Session, scope: ToolScope, args: dict[str, Any]) -> ToolResult:
        key = str(args.get("task_key") or "").strip()
        rows = session.execute(_outputs_stmt(bool(key)), {
            "tenant": scope.account_id, "goal_id": scope.goal_id, "task_id": scope.task_id,
            "skip": sorted(scope.skip_task_ids), "key": key})
        return ToolResult([f"--- DOC: {title} (by {agent}) ---\n{output}"
                           for title, agent, output in rows])


@functools.cache
def _outputs_stmt(by_key: bool) -> Select[str, str, str]:
    """Built once per shape (it runs for every card): the columns the prompt shows, the
    output cut in SQL, the account and goal as bound parameters."""
    from web4os.goals.models import Task, TaskStatus

    tasks, agents = table_of(Task), table_of(Agent)
    t = tasks.c
    stmt = (select(t.title, agents.c.name, func.substr(t.output, 1, OUTPUT_CHARS))
            .join(agents, agents.c.id == t.agent_id)
            .where(in_account(tasks), t.goal_id == bindparam("goal_id"),
                   t.id != bindparam("task_id"), t.status == TaskStatus.DONE,
                   t.id.not_in(bindparam("skip", expanding=True))))
    if by_key:
        stmt = stmt.where(t.key == bindparam("key"))
    return stmt.order_by(t.position, t.id).limit(OUTPUT_DOCS)


class NotesTool:
    """The account's knowledge notes (optionally only those mentioning a word)."""

    name = "notes"
    label = "Read the account's notes"
    description = "Read the business knowledge the operator keeps for the agents."
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {"query": {"type": "string", "maxLength": 100,
                                 "description": "Only notes mentioning this (optional)."}},
        "additionalProperties": False,
    }

    def run(self, session: Session, scope: ToolScope, args: dict[str, Any]) -> ToolResult:
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


TOOLS: dict[str, Tool] = {t.name: t for t in (ReadGoalOutputs(), NotesTool())}


def run_tool(session: Session, scope: ToolScope, name: str,
             args: dict[str, Any] | None = None) -> ToolRun:
    """Run one tool by name and price the run (free when it found nothing)."""
    tool = TOOLS.get(name)
    if tool is None:
        raise InvalidInput(f"There is no tool called “{name}”.", field="tools")
    result = tool.run(session, scope, dict(args or {}))
    return ToolRun(name, result, cost_of_tool_run() if result.items else 0, dict(args or {}))


def tool_specs(names: Sequence[str]) -> list[ToolSpec]:
    """The agent's tools as functions a tool-calling model can be offered."""
    return [ToolSpec(TOOLS[n].name, TOOLS[n].description, TOOLS[n].parameters)
            for n in dict.fromkeys(names) if n in TOOLS]


def run_tool_call(session: Session, scope: ToolScope, call: ToolCall,
                  allowed: Sequence[str]) -> ToolRun:
    """Run a tool the model asked for: only the agent's own tools, only string arguments
    the tool declares; the scope comes from the card, never from the model."""
    if call.name not in allowed:
        raise InvalidInput(f"This agent has no tool called “{call.name}”.", field="tools")
    try:
        raw = json.loads(call.arguments or "{}")
    except ValueError:
        raw = {}
    declared = TOOLS[call.name].parameters.get("properties", {})
    args = {k: str(v)[:100] for k, v in (raw.items() if isinstance(raw, dict) else [])
            if k in declared and isinstance(v, str | int)}
    return run_tool(session, scope, call.name, args)


def context_tools(session: Session, scope: ToolScope, names: Sequence[str]) -> list[ToolRun]:
    """Run an agent's tools before its model call (unknown names are skipped)."""
    return [run_tool(session, scope, name) for name in dict.fromkeys(names) if name in TOOLS]


# --- notes ----------------------------------------------------------------------

def notes_for_prompt(session: Session, account_id: AccountId) -> list[str]:
    """The account's knowledge notes, newest first, trimmed for a prompt."""
    scope = ToolScope(account_id=account_id, goal_id=0, task_id=0)
    return NotesTool().run(session, scope, {}).lines


def list_notes(session: Session, account_id: AccountId) -> list[Note]:
    return list(session.scalars(scoped(Note, account_id)
                                .order_by(Note.updated_at.desc(), Note.id.desc())))


def get_note(session: Session, account_id: AccountId, note_id: int) -> Note:
    return get_owned(session, Note, note_id, account_id)


def save_note(session: Session, ctx: TenantContext, *, title: str, body: str,
              note_id: int | None = None) -> Note:
    """Create or edit a note the agents will read."""
    title, body = title.strip(), body.strip()
    if not title:
        raise InvalidInput("Give the note a title.", field="title")
    if len(title) > 200:
        raise InvalidInput("Keep the title under 200 characters.", field="title")
    if len(body) > 20_000:
        raise InvalidInput("Keep a note under 20,000 characters.", field="body")
    if note_id is None:
        note = Note(account_id=ctx.account_id, title=title, body=body, created_by_id=ctx.user_id)
        session.add(note)
    else:
        note = get_owned(session, Note, note_id, ctx.account_id)
        note.title, note.body = title, body
    session.flush()
    return note


def delete_note(session: Session, ctx: TenantContext, note_id: int) -> None:
    session.delete(get_owned(session, Note, note_id, ctx.account_id))
    session.flush()

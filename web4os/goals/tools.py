"""Running the agents' tools for a card: what each tool reads, metered per run.

The catalogue (names, descriptions, argument schemas) is ``agents.tools``; the
goal's own data is read here, scoped by the card's account and goal."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from web4os.agents.models import Agent
from web4os.agents.prompts import doc_block
from web4os.agents.providers.base import ToolCall
from web4os.agents.tools import (
    GOAL_OUTPUTS,
    NOTES,
    ToolResult,
    ToolRun,
    ToolScope,
    call_arguments,
    read_notes,
)
from web4os.credits.pricing import cost_of_tool_run
from web4os.db import table_of
from web4os.errors import InvalidInput
from web4os.goals.models import Task, TaskStatus
from web4os.tenancy import in_account

OUTPUT_DOCS = 8
OUTPUT_CHARS = 1500


def read_goal_outputs(session: Session, scope: ToolScope, args: dict[str, Any]) -> ToolResult:
    """Outputs of the other finished cards of the same goal (same account only)."""
    key = str(args.get("task_key") or "").strip()
    rows = session.execute(_outputs_stmt(bool(key)), {
        "tenant": scope.account_id, "goal_id": scope.goal_id, "task_id": scope.task_id,
        "skip": sorted(scope.skip_task_ids), "key": key})
    return ToolResult([doc_block(title, agent, output) for title, agent, output in rows])


@functools.cache
def _outputs_stmt(by_key: bool) -> Select[str, str, str]:
    """Built once per shape (it runs for every card): the columns the prompt shows, the
    output cut in SQL, the account and goal as bound parameters."""
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

RUNNERS: dict[str, Callable[[Session, ToolScope, dict[str, Any]], ToolResult]] = {
    GOAL_OUTPUTS.name: read_goal_outputs,
    NOTES.name: read_notes,
}


def run_tool(session: Session, scope: ToolScope, name: str,
             args: dict[str, Any] | None = None) -> ToolRun:
    """Run one tool by name and price the run (free when it found nothing)."""
    runner = RUNNERS.get(name)
    if runner is None:
        raise InvalidInput(f"There is no tool called “{name}”.", field="tools")
    result = runner(session, scope, dict(args or {}))
    return ToolRun(name, result, cost_of_tool_run() if result.items else 0, dict(args or {}))


def run_tool_call(session: Session, scope: ToolScope, call: ToolCall,
                  allowed: Sequence[str]) -> ToolRun:
    """Run a tool the model asked for; the scope comes from the card, never from the model."""
    return run_tool(session, scope, call.name, call_arguments(call, allowed))


def context_tools(session: Session, scope: ToolScope, names: Sequence[str]) -> list[ToolRun]:
    """Run an agent's tools before its model call (unknown names are skipped)."""
    return [run_tool(session, scope, name) for name in dict.fromkeys(names) if name in RUNNERS]

"""Writing the append-only history: one Core ``INSERT`` per batch of events, and the
rows of model calls and tool runs.

Events are never read back by the code that writes them, so they skip the ORM's
unit of work: no identity map, no primary-key fetch per row (SQLite cannot batch
an ORM insert that must return ids, so each event would be its own statement).
They are written at once, in the caller's transaction, so a rolled-back
savepoint takes its events with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Insert, insert
from sqlalchemy.orm import Session

from web4os.agents.structured import CallRecord
from web4os.agents.tools import ToolRun
from web4os.db import table_of, utcnow
from web4os.goals.models import Task, TaskEvent

_TABLE = table_of(TaskEvent)
_INSERT: Insert = insert(_TABLE)


def event_row(*, account_id: int, goal_id: int, task_id: int | None, kind: str, actor: str,
              message: str = "", data: dict[str, Any] | None = None,
              from_status: str | None = None, to_status: str | None = None) -> dict[str, Any]:
    """One history row, every column named (an executemany needs the same keys per row)."""
    return {"account_id": account_id, "goal_id": goal_id, "task_id": task_id, "kind": kind,
            "from_status": from_status, "to_status": to_status, "actor": actor,
            "message": message, "data": data or {}, "created_at": utcnow()}


def write_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (from ``event_row``) in one statement."""
    if rows:
        session.execute(_INSERT, list(rows))


def record_calls(
    session: Session, *, account_id: int, goal_id: int, task_id: int | None,
    calls: Sequence[CallRecord],
) -> None:
    """One history event per model call: tokens, latency, credits, model."""
    write_events(session, model_call_events(account_id=account_id, goal_id=goal_id,
                                            task_id=task_id, calls=calls))


def model_call_events(*, account_id: int, goal_id: int, task_id: int | None,
                      calls: Sequence[CallRecord]) -> list[dict[str, Any]]:
    """The history rows of ``calls`` (for a caller that writes them with its others): one
    per call, and one per repair made to its answer, so the card says what was fixed."""
    rows = []
    for call in calls:
        r = call.reply
        rows.append(event_row(
            account_id=account_id, goal_id=goal_id, task_id=task_id, kind="model_call",
            actor=call.agent_slug,
            message=(f"{call.purpose} · {r.model} · {r.prompt_tokens}+{r.completion_tokens} "
                     f"tokens · {r.latency_ms} ms · {call.credits} credit(s)"
                     + (f" · failed: {r.extra['error']}" if "error" in r.extra else "")),
            data=call.as_event_data(),
        ))
        rows.extend(event_row(account_id=account_id, goal_id=goal_id, task_id=task_id,
                              kind="repair", actor=call.agent_slug, message=note,
                              data={"purpose": call.purpose})
                    for note in r.extra.get("repairs", []))
    return rows


def tool_run_event(task: Task, run: ToolRun) -> dict[str, Any]:
    return event_row(account_id=task.account_id, goal_id=task.goal_id, task_id=task.id,
                     kind="tool_run", actor=task.agent.slug,
                     message=f"{run.tool} · {run.result.items} item(s) · {run.credits} credit(s)",
                     data=run.as_event_data())

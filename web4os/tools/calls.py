"""The record of MCP tool calls made for cards: each one written (and committed) before
it is sent, its result after, so a call that started and never finished is visible."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists
from sqlalchemy.orm import Session

from web4os.db import utcnow
from web4os.tenancy import AccountId, get_owned, scoped
from web4os.tools.models import WAITING_CALLS, CallStatus, McpTool, ToolCall

EVENT_RESULT_CHARS = 500  # of a result, on the card's timeline


def start_call(session: Session, account_id: AccountId, *, task_id: int, tool: McpTool,
               arguments: dict[str, Any], reason: str, key: str,
               status: CallStatus = CallStatus.STARTED) -> ToolCall:
    """The call as it is about to be made (the caller commits before sending it), or as
    it waits for the operator (``AWAITING``)."""
    row = ToolCall(account_id=account_id, task_id=task_id, tool_id=tool.id,
                   server_name=tool.server.name, tool_name=tool.name, arguments=arguments,
                   reason=reason[:500], idempotency_key=key, status=status,
                   read_only=tool.read_only and not tool.destructive)
    session.add(row)
    session.flush()
    return row


def finish_call(session: Session, account_id: AccountId, call_id: int, *, result: str,
                failed: bool, credits: int) -> ToolCall:
    row = get_owned(session, ToolCall, call_id, account_id)
    row.status = CallStatus.FAILED if failed else CallStatus.DONE
    row.result, row.credits, row.finished_at = result, credits, utcnow()
    session.flush()
    return row


def waits_on_a_tool_call(task_id: Any) -> ColumnElement[bool]:
    """``EXISTS`` a call of this card that waits for the operator (ask first, in doubt)."""
    return exists().where(ToolCall.task_id == task_id, ToolCall.status.in_(WAITING_CALLS))


def waiting_calls(session: Session, account_id: AccountId, task_id: int) -> list[ToolCall]:
    return [c for c in calls_of_task(session, account_id, task_id) if c.status in WAITING_CALLS]


def calls_of_task(session: Session, account_id: AccountId, task_id: int) -> list[ToolCall]:
    return list(session.scalars(scoped(ToolCall, account_id)
                                .where(ToolCall.task_id == task_id).order_by(ToolCall.id)))


def event_data(row: ToolCall) -> dict[str, Any]:
    """What the card's timeline shows of a call: arguments and a truncated result."""
    result = row.result if len(row.result) <= EVENT_RESULT_CHARS else (
        row.result[:EVENT_RESULT_CHARS] + " …")
    return {"call_id": row.id, "server": row.server_name, "tool": row.tool_name,
            "args": row.arguments, "reason": row.reason, "status": str(row.status),
            "result": result, "credits": row.credits, "note": row.note}

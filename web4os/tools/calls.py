"""The record of MCP tool calls made for cards: each one written (and committed) before
it is sent, its result after, so a call that started and never finished is visible."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from web4os.db import utcnow
from web4os.tenancy import AccountId, get_owned, scoped
from web4os.tools.models import CallStatus, McpTool, ToolCall

EVENT_RESULT_CHARS = 500  # of a result, on the card's timeline


def start_call(session: Session, account_id: AccountId, *, task_id: int, tool: McpTool,
               arguments: dict[str, Any], reason: str, key: str) -> ToolCall:
    """The call as it is about to be made (the caller commits before sending it)."""
    row = ToolCall(account_id=account_id, task_id=task_id, tool_id=tool.id,
                   server_name=tool.server.name, tool_name=tool.name, arguments=arguments,
                   reason=reason[:500], idempotency_key=key, status=CallStatus.STARTED)
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


def calls_of_task(session: Session, account_id: AccountId, task_id: int) -> list[ToolCall]:
    return list(session.scalars(scoped(ToolCall, account_id)
                                .where(ToolCall.task_id == task_id).order_by(ToolCall.id)))


def event_data(row: ToolCall) -> dict[str, Any]:
    """What the card's timeline shows of a call: arguments and a truncated result."""
    result = row.result if len(row.result) <= EVENT_RESULT_CHARS else (
        row.result[:EVENT_RESULT_CHARS] + " …")
    return {"call_id": row.id, "server": row.server_name, "tool": row.tool_name,
            "args": row.arguments, "reason": row.reason, "status": str(row.status),
            "result": result, "credits": row.credits}

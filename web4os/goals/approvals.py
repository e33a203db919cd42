"""The operator's decisions on a card's tool calls: approve (maybe with edited arguments)
or deny an *ask first* call; mark done or run again a call *in doubt*. Once nothing of
the card waits any more, it is queued and runs on from where it stopped."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.orm import Session

from web4os.errors import Conflict, InvalidInput, NotFound
from web4os.goals import service as goals
from web4os.goals.actions import lock_for_action
from web4os.goals.models import GoalStatus, Task, TaskStatus
from web4os.goals.scheduling import queue_task
from web4os.goals.statemachine import transition_goal
from web4os.goals.tool_steps import clean_arguments
from web4os.tenancy import TenantContext, get_owned
from web4os.tools import calls as tool_calls
from web4os.tools.models import CallStatus, McpTool, ToolCall

Decision = Literal["approve", "deny", "mark-done", "run-again"]
DECISIONS: tuple[Decision, ...] = ("approve", "deny", "mark-done", "run-again")
MAX_NOTE = 2000

# Which call state each decision applies to, and the state it leads to.
_RULES: dict[str, tuple[CallStatus, CallStatus]] = {
    "approve": (CallStatus.AWAITING, CallStatus.APPROVED),
    "deny": (CallStatus.AWAITING, CallStatus.DENIED),
    "mark-done": (CallStatus.IN_DOUBT, CallStatus.DONE),
    "run-again": (CallStatus.IN_DOUBT, CallStatus.APPROVED),
}


def get_call(session: Session, ctx: TenantContext, task_id: int, call_id: int) -> ToolCall:
    call = get_owned(session, ToolCall, call_id, ctx.account_id)
    if call.task_id != task_id:
        raise NotFound("No such tool call.")
    return call


def decide(session: Session, ctx: TenantContext, task_id: int, call_id: int, decision: str,
           *, arguments: dict[str, Any] | None = None, note: str = "") -> ToolCall:
    """Apply the operator's decision; a repeated click on a decided call is a 409."""
    if decision not in _RULES:
        raise NotFound("No such decision.")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"Keep the note under {MAX_NOTE} characters.", field="note")
    lock_for_action(session, ctx)
    task = goals.get_task(session, ctx.account_id, task_id)
    call = get_call(session, ctx, task_id, call_id)
    needed, after = _RULES[decision]
    if call.status != needed:
        raise Conflict(f"This tool call is {call.status.replace('_', ' ')}: nothing to decide.")
    if decision == "approve" and arguments is not None:
        tool = session.get(McpTool, call.tool_id) if call.tool_id is not None else None
        if tool is None:
            raise Conflict("The tool no longer exists (its server was removed); deny the call.")
        call.arguments = clean_arguments(arguments, tool.input_schema)
    call.status, call.note, call.decided_by = after, note.strip(), ctx.actor
    if decision == "mark-done":
        call.result = "Marked done by the operator" + (f": {call.note}" if call.note else ".")
    if decision == "deny":
        call.result = "Denied by the operator" + (f": {call.note}" if call.note else ".")
    session.flush()
    goals.log_goal_event(session, task.goal, kind="action", actor=ctx.actor, task_id=task.id,
                         message=f"Tool call {call.server_name}.{call.tool_name}: "
                                 f"{decision.replace('-', ' ')}"
                                 + (f" ({call.note})" if call.note else ""),
                         data=tool_calls.event_data(call))
    _continue(session, ctx, task)
    return call


def _continue(session: Session, ctx: TenantContext, task: Task) -> None:
    """Queue the card once none of its calls waits any more (it runs on from there)."""
    if task.status != TaskStatus.BLOCKED or tool_calls.waiting_calls(session, ctx.account_id,
                                                                     task.id):
        return
    goal = goals.get_goal(session, ctx.account_id, task.goal_id)
    if goal.status == GoalStatus.FAILED:
        transition_goal(session, goal, GoalStatus.RUNNING, actor=ctx.actor,
                        reason="Work resumed by the operator.")
    queue_task(session, task, actor=ctx.actor, reason="Tool call decided; the card goes on.")

"""A card's tool calls (MCP and built-in) through the structured action step, under the
operator's policy.

Before the specialist does its card, it may ask for up to ``WEB4OS_MCP_MAX_STEPS`` calls
of the tools enabled for it (``agents.action_step``). Each call is checked against the
policy at the moment it is made. An *allowed* call is recorded and committed before it
is sent (arguments, idempotency key), then its result is recorded, priced and put on
the card's timeline, and the specialist is asked again with it. An *ask first* call is
recorded as awaiting and the card stops in Needs you (``WaitForOperator``); once the
operator decides, the card runs again from where it stopped: approved calls are sent,
denied ones answered with the operator's note, and the specialist goes on.

Exactly once: a call found *started* without a result when its card runs again (a
worker died while it was out) is retried only if the tool is read-only; any other goes
back to the operator as *in doubt*, never silently repeated.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import func, select

from web4os.agents.action_step import NO_TOOL, ToolOffer, ToolResultLine, choose_action
from web4os.agents.prompts import AgentBrief, TaskContext
from web4os.agents.providers.base import ModelProvider, ToolSpec
from web4os.agents.structured import CallRecord
from web4os.config import get_settings
from web4os.credits.pricing import cost_of_tool_run
from web4os.errors import DomainError
from web4os.goals import service as goals
from web4os.goals.history import event_row, write_events
from web4os.tenancy import AccountId, get_owned, of_account, tenant_session
from web4os.tools import builtin, client
from web4os.tools import calls as tool_calls
from web4os.tools import service as registry
from web4os.tools.models import CallStatus, McpTool, ToolCall, ToolPolicy

MAX_ARGUMENT_CHARS = 4000
IN_DOUBT = ("this may or may not have run — check, then mark it done or run it again")


class WaitForOperator(Exception):
    """The card stops in Needs you: an ask-first call, or a call in doubt. ``credits``:
    what the calls made before it cost (charged with the attempt all the same)."""

    def __init__(self, reason: str, credits: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.credits = credits


def _offers(account_id: AccountId, agent_id: int) -> dict[str, tuple[ToolOffer, int]]:
    """The tools this agent may call now, by ``server.tool``, with their ids."""
    with tenant_session(account_id) as s:
        return {t.tool.qualified_name: (ToolOffer(t.tool.qualified_name, t.tool.description,
                                                  t.tool.input_schema,
                                                  asks_first=t.policy == ToolPolicy.ASK),
                                        t.tool.id)
                for t in registry.enabled_tools(s, account_id, agent_id)}


def function_name(qualified: str) -> str:
    """``server.tool`` as a function name endpoints accept (letters, digits, _ and -)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", qualified.replace(".", "__"))[:64]


def mcp_functions(account_id: AccountId, agent_id: int) -> dict[str, tuple[ToolSpec, int]]:
    """The agent's enabled MCP tools as functions, by function name, with their ids (a call
    of an ask-first one stops the card like an action step's)."""
    return {function_name(name): (ToolSpec(
                function_name(name),
                offer.description + (" (the operator approves each call first)"
                                     if offer.asks_first else ""),
                offer.parameters or {"type": "object"}), tool_id)
            for name, (offer, tool_id) in _offers(account_id, agent_id).items()}


def run_function(account_id: AccountId, task_id: int, tool_id: int, raw_arguments: str,
                 schema: dict[str, Any]) -> tuple[str, int]:
    """A function call the model made: the same checks, record and metering as a step."""
    try:
        parsed = json.loads(raw_arguments or "{}")
        arguments = clean_arguments(parsed if isinstance(parsed, dict) else {}, schema)
    except (ValueError, DomainError) as exc:
        return f"Not run: the arguments are not valid ({exc}).", 0
    call_id = _record(account_id, task_id, tool_id, arguments, "")
    return _send(account_id, call_id)


def clean_arguments(arguments: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Only the arguments the tool declares (when it declares any), bounded in size."""
    declared = schema.get("properties")
    kept = {k: v for k, v in arguments.items()
            if not isinstance(declared, dict) or k in declared}
    if len(json.dumps(kept, ensure_ascii=False, default=str)) > MAX_ARGUMENT_CHARS:
        raise DomainError("The tool call's arguments are too long.")
    plain: dict[str, Any] = json.loads(json.dumps(kept, default=str))  # as stored and sent
    return plain


def run_tool_steps(provider: ModelProvider, agent: AgentBrief, agent_id: int,
                   ctx: TaskContext, calls: list[CallRecord], *, account_id: int,
                   task_id: int, steps: bool = True) -> int:
    """Let the specialist call its tools; their results join ``ctx``. The credits used.
    Raises ``WaitForOperator`` when the card must wait for the operator's decision.
    Without ``steps`` (the endpoint calls functions instead) it only resumes."""
    aid = AccountId(account_id)
    done, credits = _resume(aid, task_id)
    try:
        credits += _steps(provider, agent, agent_id, ctx, calls, aid, task_id, done, steps)
    except WaitForOperator as wait:
        wait.credits += credits
        raise
    ctx.tool_results.extend(f"{d.name} {json.dumps(d.arguments, ensure_ascii=False)}: {d.result}"
                            for d in done)
    return credits


def _steps(provider: ModelProvider, agent: AgentBrief, agent_id: int, ctx: TaskContext,
           calls: list[CallRecord], aid: AccountId, task_id: int,
           done: list[ToolResultLine], steps: bool) -> int:
    """Ask, run, ask again with the result: the new calls' results join ``done``."""
    credits = 0
    offers = _offers(aid, agent_id) if steps else {}
    while offers and len(done) < get_settings().mcp_max_steps:
        action = choose_action(provider, agent, ctx, [o for o, _ in offers.values()], done,
                               calls)
        if action.tool == NO_TOOL:
            break
        offer, tool_id = offers[action.tool]
        try:
            arguments = clean_arguments(action.arguments, offer.parameters)
        except DomainError as exc:
            done.append(ToolResultLine(offer.name, {}, f"Not run: {exc.message}"))
            continue
        try:
            call_id = _record(aid, task_id, tool_id, arguments, action.reason)
        except WaitForOperator as wait:
            wait.credits += credits
            raise
        except DomainError as exc:  # turned off meanwhile: the agent hears so
            done.append(ToolResultLine(offer.name, arguments, f"Not run: {exc.message}"))
            continue
        text, price = _send(aid, call_id)
        credits += price
        done.append(ToolResultLine(offer.name, arguments, text))
    return credits


def _line(row: ToolCall) -> ToolResultLine:
    name = f"{row.server_name}.{row.tool_name}"
    if row.status == CallStatus.DENIED:
        return ToolResultLine(name, row.arguments,
                              f"Not run: the operator denied it ({row.note or 'no note'}).")
    return ToolResultLine(name, row.arguments, row.result)


def _resume(account_id: AccountId, task_id: int) -> tuple[list[ToolResultLine], int]:
    """Where the card stopped: calls cut off by a dead worker are settled (read-only ones
    retried, others put in doubt), approved calls are sent; the results so far."""
    with tenant_session(account_id) as s:
        rows = tool_calls.calls_of_task(s, account_id, task_id)
        doubtful = [r for r in rows if r.status == CallStatus.STARTED and not r.read_only]
        for row in rows:
            if row.status == CallStatus.STARTED:
                row.status = CallStatus.IN_DOUBT if not row.read_only else CallStatus.APPROVED
        if doubtful:
            task = goals.get_task(s, account_id, task_id)
            write_events(s, [_event(task, r, f"{r.server_name}.{r.tool_name}: {IN_DOUBT}")
                             for r in doubtful])
        waiting = [r for r in rows if r.status in (CallStatus.AWAITING, CallStatus.IN_DOUBT)]
        reason = _waiting_reason(waiting[0]) if waiting else ""
        approved = [r.id for r in rows if r.status == CallStatus.APPROVED]
    if reason:
        raise WaitForOperator(reason)
    credits = sum(_send(account_id, call_id)[1] for call_id in approved)
    with tenant_session(account_id) as s:
        rows = tool_calls.calls_of_task(s, account_id, task_id)
        return [_line(r) for r in rows], credits


def _waiting_reason(row: ToolCall) -> str:
    call = f"{row.server_name}.{row.tool_name} {json.dumps(row.arguments, ensure_ascii=False)}"
    if row.status == CallStatus.IN_DOUBT:
        return f"A tool call was cut off: {call} — {IN_DOUBT}."
    why = f" The agent's reason: {row.reason}" if row.reason else ""
    return f"Waiting for your approval of a tool call: {call}.{why}"


def _event(task: Any, row: ToolCall, message: str) -> dict[str, Any]:
    return event_row(account_id=task.account_id, goal_id=task.goal_id, task_id=task.id,
                     kind="tool_call", actor=task.agent.slug, message=message,
                     data=tool_calls.event_data(row))


def _record(account_id: AccountId, task_id: int, tool_id: int, arguments: dict[str, Any],
            reason: str) -> int:
    """Record a call under the policy in force now: allowed ones as started (the caller
    sends it next), ask-first ones as awaiting, which stops the card."""
    with tenant_session(account_id) as s:
        task = goals.get_task(s, account_id, task_id)
        tool = registry.get_tool(s, account_id, tool_id)
        policy = {t.tool.id: t.policy for t in registry.enabled_tools(s, account_id,
                                                                      task.agent_id)}
        chosen = policy.get(tool.id, ToolPolicy.OFF)
        if chosen == ToolPolicy.OFF:
            raise DomainError(f"The tool {tool.qualified_name} is off for this agent.")
        numbered = s.scalar(select(func.count()).select_from(ToolCall).where(
            of_account(ToolCall, account_id), ToolCall.task_id == task_id)) or 0
        row = tool_calls.start_call(
            s, account_id, task_id=task_id, tool=tool, arguments=arguments, reason=reason,
            key=f"task{task_id}-call{numbered + 1}",
            status=CallStatus.STARTED if chosen == ToolPolicy.ALLOWED else CallStatus.AWAITING)
        if row.status == CallStatus.AWAITING:
            write_events(s, [_event(task, row, f"{tool.qualified_name} waits for your approval")])
            reason_text = _waiting_reason(row)
        else:
            return row.id
    raise WaitForOperator(reason_text)


def _send(account_id: AccountId, call_id: int) -> tuple[str, int]:
    """Send a recorded call (started, or approved: marked started first and committed),
    then record its result and price."""
    with tenant_session(account_id) as s:
        row = get_owned(s, ToolCall, call_id, account_id)
        tool = s.get(McpTool, row.tool_id) if row.tool_id is not None else None
        if row.status == CallStatus.APPROVED:
            row.status = CallStatus.STARTED
        is_builtin = tool is not None and bool(tool.server.builtin)
        switched_on = tool is not None and tool.server.enabled
        target = registry.target_of(tool.server) if tool is not None and not is_builtin else None
        arguments, name, qualified = dict(row.arguments), row.tool_name, (
            f"{row.server_name}.{row.tool_name}")
        goal_id = goals.get_task(s, account_id, row.task_id).goal_id
    if is_builtin:
        outcome = builtin.run_builtin(name, switched_on, arguments, account_id=account_id,
                                      goal_id=goal_id)
        text, failed = outcome.text, outcome.is_error
    elif target is None:
        text, failed = "The tool no longer exists (its server was removed).", True
    else:
        try:
            outcome = client.call_tool(target, name, arguments)
            text, failed = outcome.text, outcome.is_error
        except DomainError as exc:
            text, failed = exc.message, True
    price = 0 if failed else cost_of_tool_run(qualified)
    with tenant_session(account_id) as s:
        row = tool_calls.finish_call(s, account_id, call_id, result=text, failed=failed,
                                     credits=price)
        task = goals.get_task(s, account_id, row.task_id)
        write_events(s, [_event(task, row, f"{qualified} · {row.status} · {price} credit(s)")])
    return text, price

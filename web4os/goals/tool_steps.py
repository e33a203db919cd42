"""A card's MCP tool calls through the structured action step, under the operator's policy.

Before the specialist does its card, it may ask for up to ``WEB4OS_MCP_MAX_STEPS`` calls
of the tools enabled for it (``agents.action_step``). Each call is checked against the
policy at the moment it is made, recorded and committed before it is sent (arguments,
idempotency key), then its result is recorded, priced and put on the card's timeline,
and the specialist is asked again with it. What the calls returned goes into the
prompt of the card itself.
"""

from __future__ import annotations

import json
import re
from typing import Any

from web4os.agents.action_step import NO_TOOL, ToolOffer, ToolResultLine, choose_action
from web4os.agents.prompts import AgentBrief, TaskContext
from web4os.agents.providers.base import ModelProvider, ToolSpec
from web4os.agents.structured import CallRecord
from web4os.config import get_settings
from web4os.credits.pricing import cost_of_tool_run
from web4os.errors import DomainError
from web4os.goals import service as goals
from web4os.goals.history import event_row, write_events
from web4os.tenancy import AccountId, tenant_session
from web4os.tools import calls as tool_calls
from web4os.tools import client
from web4os.tools import service as registry
from web4os.tools.models import ToolPolicy

MAX_ARGUMENT_CHARS = 4000


def _offers(account_id: AccountId, agent_id: int) -> dict[str, tuple[ToolOffer, int]]:
    """The tools this agent may call now, by ``server.tool``, with their ids."""
    with tenant_session(account_id) as s:
        return {t.tool.qualified_name: (ToolOffer(t.tool.qualified_name, t.tool.description,
                                                  t.tool.input_schema), t.tool.id)
                for t in registry.enabled_tools(s, account_id, agent_id)
                if t.policy == ToolPolicy.ALLOWED}


def function_name(qualified: str) -> str:
    """``server.tool`` as a function name endpoints accept (letters, digits, _ and -)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", qualified.replace(".", "__"))[:64]


def mcp_functions(account_id: AccountId, agent_id: int) -> dict[str, tuple[ToolSpec, int]]:
    """The agent's allowed MCP tools as functions, by function name, with their ids."""
    return {function_name(name): (ToolSpec(function_name(name), offer.description,
                                           offer.parameters or {"type": "object"}), tool_id)
            for name, (offer, tool_id) in _offers(account_id, agent_id).items()}


def run_function(account_id: AccountId, task_id: int, tool_id: int, raw_arguments: str,
                 schema: dict[str, Any], *, key: str) -> tuple[str, int]:
    """A function call the model made: the same checks, record and metering as a step."""
    try:
        parsed = json.loads(raw_arguments or "{}")
        arguments = clean_arguments(parsed if isinstance(parsed, dict) else {}, schema)
    except (ValueError, DomainError) as exc:
        return f"Not run: the arguments are not valid ({exc}).", 0
    return _call(account_id, task_id, tool_id, arguments, "", key=key)


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
                   task_id: int, attempt: int) -> int:
    """Let the specialist call its tools; their results join ``ctx``. The credits used."""
    aid = AccountId(account_id)
    offers = _offers(aid, agent_id)
    if not offers:
        return 0
    done: list[ToolResultLine] = []
    credits = 0
    for step in range(get_settings().mcp_max_steps):
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
        text, price = _call(aid, task_id, tool_id, arguments, action.reason,
                            key=f"task{task_id}-attempt{attempt}-step{step}")
        credits += price
        done.append(ToolResultLine(offer.name, arguments, text))
    ctx.tool_results.extend(f"{d.name} {json.dumps(d.arguments, ensure_ascii=False)}: {d.result}"
                            for d in done)
    return credits


def _call(account_id: AccountId, task_id: int, tool_id: int, arguments: dict[str, Any],
          reason: str, *, key: str) -> tuple[str, int]:
    """One call: policy checked and the call committed first, then sent, then its result."""
    with tenant_session(account_id) as s:
        task = goals.get_task(s, account_id, task_id)
        tool = registry.get_tool(s, account_id, tool_id)
        policy = {t.tool.id: t.policy for t in registry.enabled_tools(s, account_id,
                                                                      task.agent_id)}
        if policy.get(tool.id) != ToolPolicy.ALLOWED:
            return "Not run: this tool is no longer allowed for this agent.", 0
        row = tool_calls.start_call(s, account_id, task_id=task_id, tool=tool,
                                    arguments=arguments, reason=reason, key=key)
        call_id, name, qualified = row.id, tool.name, tool.qualified_name
        target = registry.target_of(tool.server)
    try:
        outcome = client.call_tool(target, name, arguments)
        text, failed = outcome.text, outcome.is_error
    except DomainError as exc:
        text, failed = exc.message, True
    price = 0 if failed else cost_of_tool_run(qualified)
    with tenant_session(account_id) as s:
        task = goals.get_task(s, account_id, task_id)
        row = tool_calls.finish_call(s, account_id, call_id, result=text, failed=failed,
                                     credits=price)
        write_events(s, [event_row(
            account_id=account_id, goal_id=task.goal_id, task_id=task.id, kind="tool_call",
            actor=task.agent.slug,
            message=f"{qualified} · {row.status} · {price} credit(s)",
            data=tool_calls.event_data(row))])
    return text, price

"""Ask a model for JSON that a pydantic schema accepts, with one repair re-ask."""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from web4os.agents.providers.base import (
    ModelError,
    ModelProvider,
    ModelReply,
    ModelRequest,
    Purpose,
    ToolCall,
    ToolSpec,
)
from web4os.credits.pricing import cost_of_call
from web4os.errors import DomainError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class CallRecord:
    """One metered model call, ready to become a task event and a charge."""

    purpose: Purpose
    agent_slug: str
    reply: ModelReply
    credits: int

    def as_event_data(self) -> dict[str, object]:
        r = self.reply
        data: dict[str, object] = {
            "purpose": self.purpose,
            "agent": self.agent_slug,
            "model": r.model,
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "latency_ms": r.latency_ms,
            "credits": self.credits,
            "offline": r.offline,
        }
        for key in ("finish_reason", "json_mode", "rejected_modes", "retries", "error", "repair",
                    "tool_calls"):
            if key in r.extra:
                data[key] = r.extra[key]
        return data


class StructuredOutputError(Exception):
    """The model's answer stayed invalid after one repair re-ask."""

    def __init__(self, message: str, raw: str) -> None:
        super().__init__(message)
        self.message = message
        self.raw = raw


def extract_json(text: str) -> str:
    """The JSON object in a reply, tolerating code fences and chatter around it."""
    fenced = re.search(r"```(?:json)?\s*(\{.*\})\s*```", text, re.S)
    if fenced:
        return fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if start != -1 and end > start else text


def _problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors()[:8]:
            loc = ".".join(str(p) for p in err["loc"]) or "(root)"
            parts.append(f"{loc}: {err['msg']}")
        return "; ".join(parts)
    if isinstance(exc, DomainError):
        return exc.message
    return str(exc)


@dataclass(frozen=True)
class ToolBox:
    """Tools offered as functions, and how to run one (the worker binds it to the card)."""

    specs: list[ToolSpec]
    run: Callable[[ToolCall], str]
    max_rounds: int = 3


def _call(provider: ModelProvider, request: ModelRequest, *, purpose: Purpose,
          agent_slug: str, calls: list[CallRecord], repair: bool) -> ModelReply:
    """One metered call; a ``ModelError`` is recorded (no tokens, no charge) and re-raised."""
    started = time.perf_counter()
    try:
        reply = provider.complete(request)
    except ModelError as exc:
        failed = ModelReply(content="", model=request.model or str(getattr(provider, "model", "")),
                            prompt_tokens=0, completion_tokens=0,
                            latency_ms=int((time.perf_counter() - started) * 1000),
                            offline=provider.offline, extra={"error": str(exc), "repair": repair})
        calls.append(CallRecord(purpose, agent_slug, failed, 0))
        raise
    if repair:
        reply.extra["repair"] = True
    if reply.tool_calls:
        reply.extra["tool_calls"] = [c.name for c in reply.tool_calls]
    calls.append(CallRecord(purpose, agent_slug, reply,
                            cost_of_call(reply.model, reply.prompt_tokens,
                                         reply.completion_tokens)))
    return reply


def _tool_turn(reply: ModelReply, tools: ToolBox) -> list[dict[str, Any]]:
    """The assistant's tool calls and each tool's answer, as chat messages."""
    asked: dict[str, Any] = {"role": "assistant", "content": reply.content or None,
                             "tool_calls": [{"id": c.id, "type": "function",
                                             "function": {"name": c.name,
                                                          "arguments": c.arguments}}
                                            for c in reply.tool_calls]}
    return [asked, *({"role": "tool", "tool_call_id": c.id, "content": tools.run(c)}
                     for c in reply.tool_calls)]


@functools.lru_cache(maxsize=64)
def _schema_of(schema: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of an answer model, built once (pydantic rebuilds it on every call).

    Shared between requests: providers only read it.
    """
    return schema.model_json_schema()


def ask_structured(
    provider: ModelProvider,
    messages: list[dict[str, Any]],
    schema: type[M],
    *,
    purpose: Purpose,
    agent_slug: str,
    calls: list[CallRecord],
    check: Callable[[M], None] | None = None,
    max_tokens: int = 2000,
    model: str = "",
    tools: ToolBox | None = None,
) -> M:
    """Call the model, validate, re-ask once with the error, else raise.

    Every call made is appended to ``calls``: answered ones with their usage (an
    invalid answer costs credits too), and ones that raised ``ModelError`` with no
    tokens and no charge, so the timeline shows them. ``check`` applies rules
    beyond the schema (e.g. the plan is acyclic). With ``tools``, the model may call
    them (up to ``max_rounds`` rounds) before it answers.
    """
    json_schema = _schema_of(schema)
    convo: list[dict[str, Any]] = list(messages)
    last_raw = ""
    problem = ""
    rounds = 0
    for attempt in range(2):
        while True:
            offer = tools.specs if tools is not None else None
            request = ModelRequest(messages=convo, purpose=purpose, json_schema=json_schema,
                                   schema_name=schema.__name__.lower(), max_tokens=max_tokens,
                                   model=model, tools=offer,
                                   tool_choice="none" if tools and rounds >= tools.max_rounds
                                   else "auto")
            reply = _call(provider, request, purpose=purpose, agent_slug=agent_slug,
                          calls=calls, repair=attempt > 0)
            if not (reply.tool_calls and tools is not None and rounds < tools.max_rounds):
                break
            rounds += 1
            convo = [*convo, *_tool_turn(reply, tools)]
        last_raw = reply.content
        try:
            parsed = schema.model_validate(json.loads(extract_json(reply.content)))
            if check is not None:
                check(parsed)
            return parsed
        except (ValidationError, ValueError, DomainError) as exc:
            problem = _problem(exc)
            convo = [
                *convo,
                {"role": "assistant", "content": reply.content},
                {"role": "user", "content": (
                    f"That answer was not valid: {problem}\n"
                    "Reply again with only a JSON object that matches the schema and the rules."
                )},
            ]
    raise StructuredOutputError(f"The model's answer was not valid after a retry: {problem}",
                                raw=last_raw)

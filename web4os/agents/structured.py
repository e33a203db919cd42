"""Ask a model for JSON that a pydantic schema accepts: fitted to its window, with one
repair re-ask that knows the mistake (invalid, or cut off), and repairs that need none."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from web4os.agents.budget import Squeeze, message_tokens
from web4os.agents.providers.base import (
    ContextOverflow,
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
from web4os.text import storable

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
        for key in ("finish_reason", "json_mode", "rejected_modes", "dropped_keywords",
                    "retries", "error", "repair", "tool_calls", "repairs"):
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
    reply = dataclasses.replace(reply, content=str(storable(reply.content)))
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


@dataclass(frozen=True)
class Fit:
    """One way to ask, fitted to the model's window: the messages, the JSON schema sent
    with them (built from the context, strict-ready) and the answer's token limit."""

    messages: list[dict[str, Any]]
    json_schema: dict[str, Any]
    max_tokens: int
    strict: bool = True


Fitter = Callable[[Squeeze], Fit]


def _fixed(messages: list[dict[str, Any]], schema: type[BaseModel], max_tokens: int) -> Fitter:
    """Messages that cannot be refitted: the answer model's own schema, not strict."""
    fit = Fit(list(messages), _schema_of(schema), max_tokens, strict=False)
    return lambda squeeze: fit


def ask_structured(
    provider: ModelProvider,
    prompt: list[dict[str, Any]] | Fitter,
    schema: type[M],
    *,
    purpose: Purpose,
    agent_slug: str,
    calls: list[CallRecord],
    check: Callable[[M], None] | None = None,
    fix: Callable[[M], list[str]] | None = None,
    salvage: Callable[[str], tuple[M, str] | None] | None = None,
    max_tokens: int = 2000,
    model: str = "",
    tools: ToolBox | None = None,
) -> M:
    """Call the model, validate, re-ask once with the error, else raise.

    ``prompt`` is the messages, or a function fitting them (and the schema) to the
    model's window: that one is shrunk and sent again once if the endpoint says it does
    not fit, and asked for a shorter answer when one is cut off. ``fix`` repairs what
    can be repaired in a parsed answer (saying what it changed); ``check`` applies rules
    beyond the schema (e.g. the plan is acyclic); ``salvage`` makes an answer of prose
    that is not JSON (saying so). With ``tools``, the model may call them (up to
    ``max_rounds`` rounds) before it answers.

    Every call made is appended to ``calls``: answered ones with their usage (an
    invalid answer costs credits too), and ones that raised ``ModelError`` with no
    tokens and no charge, so the timeline shows them; repairs are noted on the call
    they concern (``extra["repairs"]``).
    """
    fitter = prompt if callable(prompt) else _fixed(prompt, schema, max_tokens)
    ask = _Asking(provider, fitter, purpose, agent_slug, calls, model, tools,
                  schema_name=schema.__name__.lower())
    reading = _Reading(schema, check, fix, salvage)
    follow_up: list[dict[str, Any]] = []
    last_raw = problem = ""
    for attempt in range(2):
        reply = ask.send(follow_up, repair=attempt > 0)
        last_raw = reply.content
        verdict = reading.read(reply)
        _note(reply, verdict.repairs)
        if verdict.answer is not None:
            return verdict.answer
        problem = verdict.problem
        follow_up = _follow_up(ask, reply, verdict)
    raise StructuredOutputError(f"The model's answer was not valid after a retry: {problem}",
                                raw=last_raw)


def _note(reply: ModelReply, notes: list[str]) -> None:
    if notes:
        reply.extra.setdefault("repairs", []).extend(notes)


def _follow_up(ask: _Asking, reply: ModelReply, verdict: _Verdict[Any]) -> list[dict[str, Any]]:
    """What the re-ask adds to the prompt: the answer and what was wrong with it; for a
    cut-off answer a request for a shorter one, with tighter bounds (and without the
    answer itself when it used up the limit: it would crowd out the prompt)."""
    if not verdict.cut_off:
        return [{"role": "assistant", "content": reply.content},
                {"role": "user", "content": f"That answer was not valid: {verdict.problem}\n"
                 "Reply again with only a JSON object that matches the schema and the rules."}]
    ask.squeeze = Squeeze(ask.squeeze.tokens, ask.squeeze.answer / 2)
    _note(reply, ["The answer was cut off before its JSON was complete; asked again for a "
                  "shorter one."])
    shorter = ("Reply again with a shorter JSON object that matches the schema: keep every "
               "text brief, so that the whole object fits.")
    if reply.extra.get("finish_reason") == "length":
        return [{"role": "user", "content": "Your previous answer was cut off at the length "
                 f"limit ({reply.completion_tokens} tokens). {shorter}"}]
    return [{"role": "assistant", "content": reply.content},
            {"role": "user", "content": f"That answer was not valid: {verdict.problem}. "
             + shorter}]


class _Asking:
    """Sending one request (and its tool rounds), refitted once if it does not fit."""

    def __init__(self, provider: ModelProvider, fitter: Fitter, purpose: Purpose,
                 agent_slug: str, calls: list[CallRecord], model: str,
                 tools: ToolBox | None, *, schema_name: str) -> None:
        self.provider, self.fitter, self.purpose = provider, fitter, purpose
        self.agent_slug, self.calls, self.model, self.tools = agent_slug, calls, model, tools
        self.schema_name = schema_name
        self.squeeze = Squeeze()
        self.shrunk = False

    def send(self, follow_up: list[dict[str, Any]], *, repair: bool) -> ModelReply:
        while True:
            fit = self.fitter(self.squeeze)
            convo = [*fit.messages, *follow_up]
            room = fit.max_tokens - math.ceil(message_tokens(follow_up) * self.squeeze.tokens)
            try:
                return self._answer(convo, fit, max(64, room), repair=repair)
            except ModelError as exc:
                if exc.overflow is None or self.shrunk:
                    raise
                self.shrunk = True
                self.squeeze = _tighter(self.squeeze, exc.overflow, message_tokens(convo))
                self.calls[-1].reply.extra["repairs"] = [
                    "The prompt did not fit the model's context window; its inputs were "
                    "shortened and it was sent again."]

    def _answer(self, convo: list[dict[str, Any]], fit: Fit, max_tokens: int, *,
                repair: bool) -> ModelReply:
        """One answer, after up to ``max_rounds`` rounds of tool calls."""
        tools, rounds = self.tools, 0
        while True:
            request = ModelRequest(
                messages=convo, purpose=self.purpose, json_schema=fit.json_schema,
                schema_name=self.schema_name, max_tokens=max_tokens, model=self.model,
                tools=tools.specs if tools is not None else None, strict=fit.strict,
                tool_choice="none" if tools and rounds >= tools.max_rounds else "auto")
            reply = _call(self.provider, request, purpose=self.purpose,
                          agent_slug=self.agent_slug, calls=self.calls, repair=repair)
            if not (reply.tool_calls and tools is not None and rounds < tools.max_rounds):
                return reply
            rounds += 1
            convo = [*convo, *_tool_turn(reply, tools)]


def _tighter(squeeze: Squeeze, overflow: ContextOverflow, estimate: int) -> Squeeze:
    """The squeeze for a retry after an overflow: the estimate scaled up to what the
    server counted, with a tenth to spare. A window the server named is remembered by
    the provider already; when it named none, the estimate grows by half at least."""
    counted = (overflow.prompt_tokens or 0) / max(1, estimate) * 1.1
    floor = squeeze.tokens if overflow.window else squeeze.tokens * 1.5
    return Squeeze(max(floor, counted), squeeze.answer)


@dataclass(frozen=True)
class _Verdict(Generic[M]):
    """An answer read: the model it gives (with the repairs made to it), or the problem."""

    answer: M | None = None
    repairs: list[str] = field(default_factory=list)
    problem: str = ""
    cut_off: bool = False  # the JSON is incomplete: the model ran out of room


@dataclass(frozen=True)
class _Reading(Generic[M]):
    """Reading an answer: parse, validate, repair what can be, check the rules."""

    schema: type[M]
    check: Callable[[M], None] | None
    fix: Callable[[M], list[str]] | None
    salvage: Callable[[str], tuple[M, str] | None] | None

    def read(self, reply: ModelReply) -> _Verdict[M]:
        text = reply.content
        at_limit = reply.extra.get("finish_reason") == "length"
        try:
            data = storable(json.loads(extract_json(text)))  # JSON escapes decode to controls here
        except json.JSONDecodeError as exc:
            if at_limit or (text.strip() and exc.pos >= len(extract_json(text).rstrip()) - 1):
                return _Verdict(problem=f"{CUT_OFF} ({exc.msg})", cut_off=True)
            kept = self.salvage(text) if self.salvage and _is_prose(text) else None
            if kept is not None:
                return _Verdict(kept[0], [kept[1]])
            return _Verdict(problem=_problem(exc))
        try:
            parsed = self.schema.model_validate(data)
            repairs = self.fix(parsed) if self.fix is not None else []
            if self.check is not None:
                self.check(parsed)
            return _Verdict(parsed, repairs)
        except (ValidationError, ValueError, DomainError) as exc:
            if at_limit:
                return _Verdict(problem=f"{CUT_OFF} ({_problem(exc)})", cut_off=True)
            return _Verdict(problem=_problem(exc))


CUT_OFF = "it was cut off before the JSON was complete"


def _is_prose(text: str) -> bool:
    """An answer written as text, not an attempt at JSON."""
    return not text.lstrip().startswith(("{", "[", "```"))

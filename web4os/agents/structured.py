"""Ask a model for JSON that a pydantic schema accepts, with one repair re-ask."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from web4os.agents.providers.base import ModelProvider, ModelReply, ModelRequest, Purpose
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
        return {
            "purpose": self.purpose,
            "agent": self.agent_slug,
            "model": r.model,
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "latency_ms": r.latency_ms,
            "credits": self.credits,
            "offline": r.offline,
        }


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


def ask_structured(
    provider: ModelProvider,
    messages: list[dict[str, str]],
    schema: type[M],
    *,
    purpose: Purpose,
    agent_slug: str,
    calls: list[CallRecord],
    check: Callable[[M], None] | None = None,
    max_tokens: int = 2000,
    model: str = "",
) -> M:
    """Call the model, validate, re-ask once with the error, else raise.

    Every call made is appended to ``calls`` (even failed ones cost credits).
    ``check`` applies rules beyond the schema (e.g. the plan is acyclic).
    """
    json_schema = schema.model_json_schema()
    convo = list(messages)
    last_raw = ""
    problem = ""
    for _attempt in range(2):
        reply = provider.complete(
            ModelRequest(messages=convo, purpose=purpose,
                         json_schema=json_schema, schema_name=schema.__name__.lower(),
                         max_tokens=max_tokens, model=model)
        )
        calls.append(CallRecord(purpose, agent_slug, reply,
                                cost_of_call(reply.model, reply.prompt_tokens,
                                             reply.completion_tokens)))
        last_raw = reply.content
        try:
            parsed = schema.model_validate(json.loads(extract_json(reply.content)))
            if check is not None:
                check(parsed)
            return parsed
        except (ValidationError, ValueError, DomainError) as exc:
            problem = _problem(exc)
            convo = [
                *messages,
                {"role": "assistant", "content": reply.content},
                {"role": "user", "content": (
                    f"That answer was not valid: {problem}\n"
                    "Reply again with only a JSON object that matches the schema and the rules."
                )},
            ]
    raise StructuredOutputError(f"The model's answer was not valid after a retry: {problem}",
                                raw=last_raw)

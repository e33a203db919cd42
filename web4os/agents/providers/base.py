"""The one interface every model call goes through."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Purpose = Literal["plan", "replan", "task", "review", "summary", "repair", "action"]


@dataclass(frozen=True)
class ModelRequest:
    """A chat request plus what it is for (the offline model and meters read ``purpose``)."""

    messages: list[dict[str, Any]]
    purpose: Purpose
    json_schema: dict[str, Any] | None = None
    schema_name: str = "answer"
    max_tokens: int = 1500
    temperature: float = 0.2
    model: str = ""
    tools: list[ToolSpec] | None = None  # offered as functions (tool-calling endpoints)
    tool_choice: Literal["auto", "none"] = "auto"
    strict: bool = False  # the schema is strict-ready (closed objects, all fields required)


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model as a function: name, what it does, its JSON arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """The model asked to run a tool."""

    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


@dataclass(frozen=True)
class ModelReply:
    """What came back, with the usage needed to meter it."""

    content: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    offline: bool
    extra: dict[str, Any] = field(default_factory=dict)
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass(frozen=True)
class ContextOverflow:
    """The endpoint said the request does not fit the model's context window, with the
    sizes it counted when it said them."""

    window: int | None = None
    prompt_tokens: int | None = None


class ModelError(Exception):
    """A model call failed after the provider's own retries.

    ``retryable`` tells the worker whether trying the task again later may help
    (timeouts, 429, 5xx) or not (bad request, auth). ``overflow`` is set when the
    prompt did not fit the context window: a shorter prompt may.
    """

    def __init__(self, message: str, *, retryable: bool, status: int | None = None,
                 retry_after: float | None = None,
                 overflow: ContextOverflow | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after  # seconds the endpoint asked us to wait (Retry-After)
        self.overflow = overflow


class ModelProvider(Protocol):
    """Anything that answers chat requests: the offline model or an OpenAI-compatible API."""

    label: str
    offline: bool

    def complete(self, request: ModelRequest) -> ModelReply: ...


def estimate_tokens(text: str) -> int:
    """Rough token count (~4 characters a token) for the offline model's usage."""
    return max(1, (len(text) + 3) // 4)

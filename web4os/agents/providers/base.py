"""The one interface every model call goes through."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Purpose = Literal["plan", "task", "review", "summary", "repair"]


@dataclass(frozen=True)
class ModelRequest:
    """A chat request plus what it is for (the offline model and meters read ``purpose``)."""

    messages: list[dict[str, str]]
    purpose: Purpose
    json_schema: dict[str, Any] | None = None
    schema_name: str = "answer"
    max_tokens: int = 1500
    temperature: float = 0.2
    model: str = ""


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


class ModelError(Exception):
    """A model call failed after the provider's own retries.

    ``retryable`` tells the worker whether trying the task again later may help
    (timeouts, 429, 5xx) or not (bad request, auth).
    """

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class ModelProvider(Protocol):
    """Anything that answers chat requests: the offline model or an OpenAI-compatible API."""

    label: str
    offline: bool

    def complete(self, request: ModelRequest) -> ModelReply: ...


def estimate_tokens(text: str) -> int:
    """Rough token count (~4 characters a token) for the offline model's usage."""
    return max(1, (len(text) + 3) // 4)

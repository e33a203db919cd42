"""How much of a model's context window one request may use: trimming its inputs to
fit, and bounding the answer's JSON schema to the tokens left for it.

web4os talks to any model and ships no tokenizer, so tokens are estimated on the safe
side: three bytes of UTF-8 a token, where real tokenizers average about four on
English (and one per character on CJK, which is three bytes). The answer gets what the prompt
leaves, never less than the purpose's least useful answer: inputs are cut first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from web4os.agents.providers.base import ModelProvider
from web4os.agents.providers.windows import DEFAULT_WINDOW

BYTES_PER_TOKEN = 3
MESSAGE_TOKENS = 8  # the role markers and separators a chat template adds per message
# An image's tokens, on the safe side: models tile an image into 256 (Gemma 3) to about
# 1,100 (GPT-4o, high detail) tokens, more for a large image on Qwen-VL.
IMAGE_TOKENS = 2000
OFFLINE_WINDOW = 1_000_000  # the offline model reads any length
SHORTENED = "[… shortened to fit the model's context window]"
LEFT_OUT = "[left out to fit the model's context window]"
TRIM_NOTE = ("Some inputs were shortened to fit the model's context window (marked “[…]”); "
             "work with what is there.")


def estimate_tokens(text: str) -> int:
    """Tokens ``text`` may take, on the safe side."""
    return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)


def content_tokens(content: Any) -> int:
    """Tokens a message's content may take: its text, or its parts (an image part counts
    ``IMAGE_TOKENS``, not its base64 text)."""
    if not isinstance(content, list):
        return estimate_tokens(str(content or ""))
    return sum(IMAGE_TOKENS if part.get("type") == "image_url"
               else estimate_tokens(str(part.get("text") or "")) for part in content)


def message_tokens(messages: Sequence[dict[str, Any]]) -> int:
    """Tokens a chat prompt may take, with each message's template overhead."""
    return sum(MESSAGE_TOKENS + content_tokens(m.get("content")) for m in messages)


@runtime_checkable
class KnowsContextWindow(Protocol):
    """A provider that can tell the context window of the model it calls."""

    def context_window(self) -> int: ...


def context_window(provider: ModelProvider) -> int:
    """The window a provider's model has: unlimited for the offline model, what the
    provider knows (configured, or the server's), else a default that fits small models."""
    if provider.offline:
        return OFFLINE_WINDOW
    if isinstance(provider, KnowsContextWindow):
        return provider.context_window()
    return DEFAULT_WINDOW


@dataclass(frozen=True)
class Squeeze:
    """How much tighter than the first try a retry asks: ``tokens`` scales the estimate
    (the server counted more than we guessed), ``answer`` the answer's bounds (a cut-off
    answer is asked again shorter)."""

    tokens: float = 1.0
    answer: float = 1.0


@dataclass(frozen=True)
class Budget:
    """One request's share of the window: ``answer`` tokens wanted for the answer, at
    least ``least`` (inputs are trimmed to leave that much)."""

    window: int
    answer: int
    least: int
    squeeze: Squeeze = field(default_factory=Squeeze)

    @property
    def margin(self) -> int:
        """Room kept free for what the estimate cannot see (templates, special tokens)."""
        return 16 + self.window // 50

    def prompt_tokens(self, messages: Sequence[dict[str, Any]]) -> int:
        return math.ceil(message_tokens(messages) * self.squeeze.tokens)

    def room_for_inputs(self, fixed: Sequence[dict[str, Any]]) -> int:
        """Tokens the trimmable inputs may take beside the ``fixed`` messages."""
        spare = self.window - self.margin - min(self.answer, self.least) - self.prompt_tokens(fixed)
        return max(0, math.floor(spare / self.squeeze.tokens))

    def max_tokens(self, messages: Sequence[dict[str, Any]]) -> int:
        """The answer's token limit: what the prompt leaves, up to the answer wanted."""
        left = self.window - self.margin - self.prompt_tokens(messages)
        return max(1, min(self.answer, left))


@dataclass(frozen=True)
class Trimmed:
    texts: list[str]
    trimmed: bool


def trim_texts(texts: Sequence[str], allowance: int, *, floor: int = 40) -> Trimmed:
    """Fit ``texts`` (oldest first) into ``allowance`` tokens.

    The longest are cut first, all to one common cap; when even a cap of ``floor``
    tokens leaves too much, the oldest are left out. Each changed text says so.
    """
    costs = [estimate_tokens(t) for t in texts]
    if sum(costs) <= allowance:
        return Trimmed(list(texts), False)
    kept = list(range(len(texts)))
    marker = estimate_tokens(LEFT_OUT)
    while kept and (sum(min(costs[i], floor) for i in kept)
                    + marker * (len(texts) - len(kept))) > allowance:
        kept.pop(0)
    cap = _common_cap([costs[i] for i in kept],
                      allowance - marker * (len(texts) - len(kept)))
    out = []
    for i, text in enumerate(texts):
        if i not in kept:
            out.append(LEFT_OUT)
        elif costs[i] <= cap:
            out.append(text)
        else:
            out.append(_cut(text, cap))
    return Trimmed(out, True)


def _common_cap(costs: list[int], allowance: int) -> int:
    """The largest cap such that the costs, each cut to it, fit the allowance."""
    low, high = 0, max(costs, default=0)
    while low < high:
        mid = (low + high + 1) // 2
        if sum(min(c, mid) for c in costs) <= allowance:
            low = mid
        else:
            high = mid - 1
    return low


def _cut(text: str, tokens: int) -> str:
    """``text`` cut to about ``tokens`` tokens (marker included), at a word if one is near."""
    room = max(0, (tokens - estimate_tokens(SHORTENED) - 1) * BYTES_PER_TOKEN)
    head = text.encode("utf-8")[:room].decode("utf-8", "ignore")
    space = head.rfind(" ")
    if space > len(head) * 0.8:
        head = head[:space]
    return f"{head.rstrip()}\n{SHORTENED}" if head.strip() else SHORTENED


def chars_for(tokens: int) -> int:
    """Characters of text that surely fit in ``tokens`` (the estimate's inverse)."""
    return max(0, tokens * BYTES_PER_TOKEN)


def tokens_for(chars: int) -> int:
    """Tokens ``chars`` characters of plain text may take."""
    return math.ceil(chars / BYTES_PER_TOKEN)


def closed_object(properties: dict[str, Any]) -> dict[str, Any]:
    """A strict-ready JSON schema object: every property required, no other allowed
    (what OpenAI's strict mode demands; llama.cpp then writes every field, in order)."""
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}


def text_field(max_chars: int, *, min_chars: int = 0, about: str = "") -> dict[str, Any]:
    """A bounded string: a decoder that follows the schema closes it in time."""
    field_: dict[str, Any] = {"type": "string", "maxLength": max(max_chars, min_chars, 1)}
    if min_chars:
        field_["minLength"] = min_chars
    if about:
        field_["description"] = about
    return field_


def fit_texts(budget: Budget, render: Callable[[list[str], str], list[dict[str, Any]]],
              texts: list[str]) -> list[dict[str, Any]]:
    """The messages ``render`` makes of ``texts`` (oldest first), trimmed so the prompt
    leaves the answer at least its least room; ``render`` gets ``TRIM_NOTE`` to say so
    when anything was cut, else ""."""
    room = budget.room_for_inputs(render(["" for _ in texts], ""))
    if sum(estimate_tokens(t) for t in texts) > room:
        room = max(0, room - estimate_tokens(TRIM_NOTE) - 1)  # the note takes room too
    trimmed = trim_texts(texts, room)
    return render(trimmed.texts, TRIM_NOTE if trimmed.trimmed else "")

"""What a model call or a tool run costs, in whole credits."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache

from web4os.config import get_settings


@dataclass(frozen=True)
class Price:
    """Credits per 1,000 prompt and completion tokens."""

    prompt_per_1k: int
    completion_per_1k: int


# A sensible default table; override with WEB4OS_MODEL_PRICES='{"model": [p, c], …}'.
DEFAULT_PRICES: dict[str, Price] = {
    "web4os-offline-1": Price(1, 1),
    "gpt-4o-mini": Price(1, 4),
    "gpt-4o": Price(10, 40),
    "gpt-4.1-mini": Price(2, 8),
    "gpt-4.1": Price(10, 40),
    "*": Price(2, 8),
}


@lru_cache
def price_table() -> dict[str, Price]:
    """Defaults merged with ``WEB4OS_MODEL_PRICES`` (read once per process)."""
    table = dict(DEFAULT_PRICES)
    offline = get_settings().credits_per_1k_tokens_offline
    table["web4os-offline-1"] = Price(offline, offline)
    raw = os.environ.get("WEB4OS_MODEL_PRICES", "")
    if raw:
        for model, pair in json.loads(raw).items():
            table[model] = Price(int(pair[0]), int(pair[1]))
    return table


def price_of(model: str) -> Price:
    """The price for ``model`` (exact name, else the ``*`` fallback)."""
    table = price_table()
    return table.get(model) or table["*"]


def cost_of_call(model: str, prompt_tokens: int, completion_tokens: int) -> int:
    """Credits for one model call: rounded up, and never free (at least 1)."""
    price = price_of(model)
    milli = prompt_tokens * price.prompt_per_1k + completion_tokens * price.completion_per_1k
    return max(1, math.ceil(milli / 1000))


def cost_of_tool_run() -> int:
    """Flat credits for one tool run."""
    return get_settings().credits_per_tool_run

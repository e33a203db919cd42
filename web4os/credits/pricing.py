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
        table.update(parse_prices(raw))
    return table


def parse_prices(raw: str) -> dict[str, Price]:
    """``{"model": [prompt_per_1k, completion_per_1k], …}`` → prices, or a clear error.

    Prices are whole credits ≥ 0; a typo must stop start-up rather than make work free.
    """
    problem = ('WEB4OS_MODEL_PRICES must be JSON like {"gpt-4o-mini": [1, 4]}: '
               "model name → [credits per 1k prompt tokens, per 1k completion tokens]")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{problem} ({exc}).") from None
    if not isinstance(data, dict):
        raise ValueError(problem + ".")
    out: dict[str, Price] = {}
    for model, pair in data.items():
        ok = (isinstance(pair, list) and len(pair) == 2
              and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in pair))
        if not ok:
            raise ValueError(f"{problem}; the entry for {model!r} is {pair!r}.")
        out[str(model)] = Price(pair[0], pair[1])
    return out


def price_of(model: str) -> Price:
    """The price for ``model`` (exact name, else the ``*`` fallback)."""
    table = price_table()
    return table.get(model) or table["*"]


def cost_of_call(model: str, prompt_tokens: int, completion_tokens: int) -> int:
    """Credits for one model call: rounded up, and never free (at least 1)."""
    price = price_of(model)
    milli = prompt_tokens * price.prompt_per_1k + completion_tokens * price.completion_per_1k
    return max(1, math.ceil(milli / 1000))


def cost_of_tool_run(name: str = "") -> int:
    """Credits for one tool run: the tool's own price (``WEB4OS_TOOL_RUN_CREDITS``, by
    ``server.tool`` or tool name), else the flat ``WEB4OS_CREDITS_PER_TOOL_RUN``."""
    settings = get_settings()
    prices = settings.tool_run_credits
    if name in prices:
        return prices[name]
    short = name.rsplit(".", 1)[-1]
    return prices.get(short, settings.credits_per_tool_run)

"""Pricing: whole credits, rounded up, never free; the table is configurable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from web4os.config import get_settings
from web4os.credits.pricing import (
    Price,
    cost_of_call,
    cost_of_tool_run,
    parse_prices,
    price_of,
    price_table,
)


@pytest.fixture(autouse=True)
def _fresh_table() -> Iterator[None]:
    price_table.cache_clear()
    yield
    price_table.cache_clear()


def test_costs_round_up_and_are_never_free() -> None:
    assert price_of("gpt-4o") == Price(10, 40)
    assert cost_of_call("gpt-4o", 1000, 1000) == 50
    assert cost_of_call("gpt-4o", 1001, 0) == 11  # 10.01 → 11
    assert cost_of_call("gpt-4o-mini", 0, 1) == 1  # 0.004 → 1 (a call is never free)
    assert cost_of_call("gpt-4o-mini", 0, 0) == 1
    assert cost_of_call("gpt-4o-mini", 2000, 250) == 3  # 2 + 1 = 3 exactly


def test_unknown_models_use_the_fallback_price() -> None:
    assert price_of("some-local-llama") == price_of("*") == Price(2, 8)
    assert cost_of_call("some-local-llama", 500, 500) == 5


def test_the_offline_model_has_a_price_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cost_of_call("web4os-offline-1", 3000, 0) == 3
    monkeypatch.setenv("WEB4OS_CREDITS_PER_1K_TOKENS_OFFLINE", "5")
    get_settings.cache_clear()
    price_table.cache_clear()
    assert cost_of_call("web4os-offline-1", 3000, 0) == 15


def test_prices_are_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_MODEL_PRICES", '{"my-model": [3, 7], "gpt-4o": [1, 1]}')
    assert price_of("my-model") == Price(3, 7)
    assert cost_of_call("gpt-4o", 1000, 1000) == 2
    assert price_of("gpt-4o-mini") == Price(1, 4)  # the rest of the defaults stay


@pytest.mark.parametrize("raw", ['{"m": [1]}', '{"m": [-1, 2]}', '{"m": [1.5, 2]}', "[1, 2]",
                                 "not json", '{"m": "cheap"}'])
def test_a_bad_price_table_is_refused_with_a_clear_message(raw: str) -> None:
    with pytest.raises(ValueError, match="WEB4OS_MODEL_PRICES must be JSON"):
        parse_prices(raw)


def test_a_tool_run_costs_a_flat_fee(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cost_of_tool_run() == 1
    monkeypatch.setenv("WEB4OS_CREDITS_PER_TOOL_RUN", "4")
    get_settings.cache_clear()
    assert cost_of_tool_run() == 4

"""The prompt budget: estimating tokens on the safe side, trimming inputs (longest and
oldest first, saying so) and the answer's limit from what the prompt leaves."""

from __future__ import annotations

from typing import Any

from web4os.agents.budget import (
    LEFT_OUT,
    SHORTENED,
    TRIM_NOTE,
    Budget,
    Squeeze,
    estimate_tokens,
    fit_texts,
    message_tokens,
    trim_texts,
)


def test_estimates_are_on_the_safe_side() -> None:
    assert estimate_tokens("word " * 300) == 500  # real tokenizers count ~300-400
    assert estimate_tokens("日本語") == 3  # three bytes each: a token per character
    assert estimate_tokens("") == 0
    assert message_tokens([{"role": "user", "content": "abc"}]) == 8 + 1


def test_texts_that_fit_are_left_alone() -> None:
    out = trim_texts(["short", "also short"], allowance=100)
    assert out.texts == ["short", "also short"] and not out.trimmed


def test_the_longest_text_is_cut_first_and_says_so() -> None:
    texts = ["a brief", "x " * 3000, "another brief"]
    out = trim_texts(texts, allowance=400)
    assert out.trimmed
    assert out.texts[0] == "a brief" and out.texts[2] == "another brief"
    assert out.texts[1].endswith(SHORTENED) and out.texts[1].startswith("x x")
    assert sum(estimate_tokens(t) for t in out.texts) <= 400


def test_long_texts_are_cut_to_one_common_cap() -> None:
    texts = ["a" * 3000, "b" * 6000, "c" * 300]
    out = trim_texts(texts, allowance=900)
    a, b, c = (estimate_tokens(t) for t in out.texts)
    assert c == 100  # under the cap: untouched
    assert abs(a - b) <= 1 and a + b + c <= 900  # both long ones cut to the same size


def test_when_even_short_pieces_do_not_fit_the_oldest_are_left_out() -> None:
    texts = [f"result {i} " * 60 for i in range(10)]
    out = trim_texts(texts, allowance=200, floor=40)
    assert out.texts[0] == LEFT_OUT  # the oldest go first
    assert out.texts[-1] != LEFT_OUT  # the newest stay
    kept = [t for t in out.texts if t != LEFT_OUT]
    assert kept and sum(estimate_tokens(t) for t in out.texts) <= 200


def test_the_answer_gets_what_the_prompt_leaves_up_to_what_it_wants() -> None:
    small = Budget(window=1000, answer=3000, least=200)
    prompt = [{"role": "user", "content": "x" * 1500}]  # 500 + 8 tokens
    assert small.max_tokens(prompt) == 1000 - small.margin - 508
    roomy = Budget(window=100_000, answer=3000, least=200)
    assert roomy.max_tokens(prompt) == 3000


def test_a_squeeze_counts_the_prompt_as_bigger() -> None:
    prompt = [{"role": "user", "content": "x" * 1500}]
    plain = Budget(window=2000, answer=3000, least=200)
    squeezed = Budget(window=2000, answer=3000, least=200, squeeze=Squeeze(tokens=1.5))
    assert squeezed.prompt_tokens(prompt) == 762
    assert squeezed.max_tokens(prompt) < plain.max_tokens(prompt)
    assert squeezed.room_for_inputs(prompt) < plain.room_for_inputs(prompt)


def render(texts: list[str], note: str) -> list[dict[str, Any]]:
    body = "\n\n".join(["TASK: the fixed part", *texts, note])
    return [{"role": "system", "content": "You write."}, {"role": "user", "content": body}]


def test_a_fitted_prompt_leaves_the_answer_its_least_room_and_says_it_was_trimmed() -> None:
    budget = Budget(window=2048, answer=3000, least=800)
    docs = ["first finding " * 400, "second finding " * 400]
    messages = fit_texts(budget, render, docs)
    assert TRIM_NOTE in messages[-1]["content"]
    assert budget.max_tokens(messages) >= 800
    assert budget.prompt_tokens(messages) + 800 + budget.margin <= 2048


def test_a_prompt_that_fits_is_not_marked() -> None:
    budget = Budget(window=100_000, answer=3000, least=800)
    messages = fit_texts(budget, render, ["one finding"])
    assert TRIM_NOTE not in messages[-1]["content"]
    assert "one finding" in messages[-1]["content"]

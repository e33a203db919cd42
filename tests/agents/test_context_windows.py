"""Prompts that fit the model: the context window configured or read from the server
(llama.cpp's /props, vLLM's /v1/models), prompts trimmed to it, ``max_tokens`` from
what is left, and a "context exceeded" answer shrunk and sent again once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.fake_openai import FakeOpenAI
from web4os.agents.budget import SHORTENED, TRIM_NOTE, message_tokens
from web4os.agents.prompts import AgentBrief, InputDoc, TaskContext, do_task
from web4os.agents.providers import ModelError
from web4os.agents.providers import configured_window as window_setting
from web4os.agents.providers.openai_compat import OpenAICompatible
from web4os.agents.providers.windows import DEFAULT_WINDOW
from web4os.agents.structured import CallRecord
from web4os.config import Settings

WRITER = AgentBrief("writer", "Writer", "Writes copy", "Write plainly.")
LLAMA_OVERFLOW = "request (5200 tokens) exceeds the available context size (2048 tokens), " \
                 "try increasing it"


def provider(fake: FakeOpenAI, **kw: Any) -> OpenAICompatible:
    opts: dict[str, Any] = {"base_url": fake.base_url, "api_key": "sk-test", "model": "fake-model",
                            "timeout": 5.0, "max_retries": 0}
    return OpenAICompatible(**(opts | kw))


def long_task(docs: int = 6) -> TaskContext:
    """A task whose inputs (six documents of 6,000 characters) need ~12k tokens."""
    return TaskContext("Launch a newsletter", "For a bakery.", "Draft the first issue",
                       "Use the research.",
                       inputs=[InputDoc(f"Research {i}", "Researcher", f"finding {i} " * 700)
                               for i in range(docs)])


def deliverable() -> dict[str, str]:
    return {"deliverable": "## Issue one\n\nFresh bread every morning.", "note": "Ready."}


def prompt_tokens(request: dict[str, Any]) -> int:
    return message_tokens(request["messages"])


def test_llama_cpp_reports_its_per_slot_window_once(fake: FakeOpenAI) -> None:
    fake.props = {"default_generation_settings": {"n_ctx": 2048}, "total_slots": 4}
    p = provider(fake)
    assert p.context_window() == 2048
    assert p.context_window() == 2048
    assert [r["path"] for r in fake.requests] == ["/props"]


def test_vllm_reports_max_model_len_with_its_models(fake: FakeOpenAI) -> None:
    fake.max_model_len = 8192
    assert provider(fake).context_window() == 8192
    assert [r["path"] for r in fake.requests] == ["/props", "/v1/models"]


def test_a_server_that_says_nothing_gets_the_default_and_never_fails(fake: FakeOpenAI) -> None:
    assert provider(fake).context_window() == DEFAULT_WINDOW
    unreachable = OpenAICompatible(base_url="http://127.0.0.1:9/v1", api_key="x", model="m")
    assert unreachable.context_window() == DEFAULT_WINDOW


def test_a_configured_window_wins_and_the_server_is_not_asked(fake: FakeOpenAI) -> None:
    fake.props = {"default_generation_settings": {"n_ctx": 2048}}
    assert provider(fake, context_tokens=16_000).context_window() == 16_000
    assert fake.requests == []


def test_openai_and_azure_are_not_asked_and_get_their_models_window(fake: FakeOpenAI) -> None:
    azure = provider(fake, base_url=fake.base_url.removesuffix("/v1"), api_version="2024-10-21")
    assert azure.context_window() == 128_000
    assert provider(fake, base_url=None).context_window() == 128_000
    assert fake.requests == []


def test_the_window_setting_is_per_model_then_endpoint_then_global() -> None:
    settings = Settings(model_context_tokens=8192, model_context_windows={
        "llama3.1:8b": 16_384, "http://gpu-box:8000/v1/": 32_768})
    assert window_setting(settings, "http://localhost:11434/v1", "llama3.1:8b") == 16_384
    assert window_setting(settings, "http://gpu-box:8000/v1", "qwen") == 32_768
    assert window_setting(settings, "http://other/v1", "qwen") == 8192
    assert window_setting(Settings(), "http://other/v1", "qwen") == 0  # ask the server


def test_a_task_prompt_is_trimmed_to_the_window_and_max_tokens_is_what_is_left(
    fake: FakeOpenAI,
) -> None:
    fake.props = {"default_generation_settings": {"n_ctx": 2048}}
    fake.reply_json(deliverable())
    out = do_task(provider(fake), WRITER, long_task(), [])
    assert out.deliverable.startswith("## Issue one")
    sent = fake.last_request
    text = sent["messages"][-1]["content"]
    assert TRIM_NOTE in text and SHORTENED in text
    assert "INSTRUCTIONS: Use the research." in text  # the instructions are kept whole
    assert prompt_tokens(sent) + sent["max_tokens"] <= 2048
    assert sent["max_tokens"] >= 800  # the least a deliverable is given


def test_a_roomy_window_leaves_the_prompt_whole(fake: FakeOpenAI) -> None:
    fake.reply_json(deliverable())
    do_task(provider(fake, context_tokens=128_000), WRITER, long_task(), [])
    text = fake.last_request["messages"][-1]["content"]
    assert TRIM_NOTE not in text and SHORTENED not in text
    assert fake.last_request["max_tokens"] == 3000


def test_a_llama_cpp_context_error_is_shrunk_to_the_window_it_names_and_sent_again(
    fake: FakeOpenAI,
) -> None:
    fake.error(400, LLAMA_OVERFLOW, type="exceed_context_size_error",
               fields={"n_ctx": 2048, "n_prompt_tokens": 5200})
    fake.reply_json(deliverable())
    p = provider(fake)  # no window known: the default, twice what the server has
    calls: list[CallRecord] = []
    out = do_task(p, WRITER, long_task(), calls)
    assert out.note == "Ready."
    first, second = fake.chat_requests
    assert prompt_tokens(first) + first["max_tokens"] <= DEFAULT_WINDOW
    assert prompt_tokens(second) + second["max_tokens"] <= 2048 < prompt_tokens(first)
    assert p.context_window() == 2048  # remembered for the next request
    failed, answered = calls
    assert failed.credits == 0 and "context window" in str(failed.reply.extra["error"])
    assert "shortened" in failed.reply.extra["repairs"][0]
    assert answered.reply.extra.get("repair") is None  # a refit, not a repair re-ask


def test_an_openai_context_error_without_sizes_in_fields_is_read_from_its_message(
    fake: FakeOpenAI,
) -> None:
    fake.error(400, "This model's maximum context length is 3000 tokens. However, your "
               "messages resulted in 3900 tokens. Please reduce the length of the messages.",
               code="context_length_exceeded")
    fake.reply_json(deliverable())
    p = provider(fake)
    do_task(p, WRITER, long_task(), [])
    assert p.context_window() == 3000
    second = fake.chat_requests[1]
    assert prompt_tokens(second) + second["max_tokens"] <= 3000


def test_a_second_context_error_is_not_retried_again(fake: FakeOpenAI) -> None:
    for _ in range(2):
        fake.error(400, LLAMA_OVERFLOW, type="exceed_context_size_error",
                   fields={"n_ctx": 2048, "n_prompt_tokens": 5200})
    calls: list[CallRecord] = []
    with pytest.raises(ModelError) as info:
        do_task(provider(fake), WRITER, long_task(), calls)
    assert info.value.overflow is not None and info.value.overflow.window == 2048
    assert not info.value.retryable
    assert len(fake.chat_requests) == 2 and len(calls) == 2

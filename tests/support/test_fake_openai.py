"""Tests proving FakeOpenAI works with the real ``openai`` SDK over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import (
    ChatCompletionChunk,
    ChatCompletionMessageParam,
    ChatCompletionToolParam,
)

from .fake_openai import NO_REPLY_MESSAGE, FakeOpenAI

MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "hi"},
]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """A running fake server."""
    with FakeOpenAI() as f:
        yield f


def client_for(fake: FakeOpenAI, *, max_retries: int = 0, timeout: float = 5.0) -> openai.OpenAI:
    """Real SDK client pointed at the fake, with strict response-schema validation."""
    return openai.OpenAI(
        base_url=fake.base_url,
        api_key="test",
        max_retries=max_retries,
        timeout=timeout,
        _strict_response_validation=True,
    )


def stream_chunks(fake: FakeOpenAI) -> list[ChatCompletionChunk]:
    """Make a plain streaming request and collect every chunk."""
    return list(client_for(fake).chat.completions.create(model="m", messages=MESSAGES, stream=True))


def test_base_url_and_port(fake: FakeOpenAI) -> None:
    assert fake.base_url == f"http://127.0.0.1:{fake.port}/v1"
    assert fake.port > 0


def test_normal_reply_and_usage(fake: FakeOpenAI) -> None:
    fake.reply("hello there", prompt_tokens=7, completion_tokens=2)
    out = client_for(fake).chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert out.choices[0].message.content == "hello there"
    assert out.choices[0].finish_reason == "stop"
    assert out.model == "gpt-test"  # echoes requested model by default
    assert out.object == "chat.completion"
    assert out.id.startswith("chatcmpl-")
    assert out.usage is not None
    usage = out.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (7, 2, 9)
    assert out._request_id is not None and out._request_id.startswith("req-")
    fake.assert_all_used()


def test_reply_model_override(fake: FakeOpenAI) -> None:
    fake.reply("x", model="served-model")
    out = client_for(fake).chat.completions.create(model="asked", messages=MESSAGES)
    assert out.model == "served-model"


def test_reply_json(fake: FakeOpenAI) -> None:
    fake.reply_json({"answer": 42, "items": ["a"]})
    out = client_for(fake).chat.completions.create(
        model="m",
        messages=MESSAGES,
        response_format={"type": "json_object"},
    )
    assert json.loads(out.choices[0].message.content or "") == {"answer": 42, "items": ["a"]}
    assert fake.last_request["response_format"] == {"type": "json_object"}


def test_rate_limit_raises(fake: FakeOpenAI) -> None:
    fake.error(429, "slow down", headers={"retry-after": "0"})
    with pytest.raises(openai.RateLimitError) as ei:
        client_for(fake).chat.completions.create(model="m", messages=MESSAGES)
    assert ei.value.status_code == 429
    assert ei.value.code == "rate_limit_exceeded"
    assert "slow down" in ei.value.message
    assert ei.value.body == {
        "message": "slow down",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }


def test_rate_limit_then_success_with_retries(fake: FakeOpenAI,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # retry-after: 0 is ignored by the SDK (needs 0 < value) and falls back to
    # ~0.5 s backoff; retry-after-ms makes the retry near-instant.
    fake.error(429, "slow down", headers={"retry-after-ms": "1"})
    fake.reply("finally")
    slept: list[float] = []
    pause = openai.OpenAI._calculate_retry_timeout

    def pause_between_tries(*args: Any, **kwargs: Any) -> float:
        slept.append(pause(*args, **kwargs))
        return slept[-1]

    monkeypatch.setattr(openai.OpenAI, "_calculate_retry_timeout", pause_between_tries)
    out = client_for(fake, max_retries=2).chat.completions.create(model="m", messages=MESSAGES)
    assert slept == [0.001]  # the header's 1 ms, not the SDK's own backoff
    assert out.choices[0].message.content == "finally"
    assert len(fake.chat_requests) == 2
    assert fake.chat_requests[0]["messages"] == fake.chat_requests[1]["messages"] == MESSAGES
    # the SDK marks retries in a header
    assert fake.chat_requests[1]["headers"].get("x-stainless-retry-count") == "1"


def test_server_error_raises(fake: FakeOpenAI) -> None:
    fake.error(500, "boom")
    with pytest.raises(openai.InternalServerError) as ei:
        client_for(fake).chat.completions.create(model="m", messages=MESSAGES)
    assert ei.value.status_code == 500
    assert ei.value.type == "server_error"


@pytest.mark.parametrize(
    ("status", "exc"),
    [(400, openai.BadRequestError), (401, openai.AuthenticationError), (404, openai.NotFoundError)],
)
def test_other_errors(fake: FakeOpenAI, status: int, exc: type[openai.APIStatusError]) -> None:
    fake.error(status, f"err {status}", code="custom_code")
    with pytest.raises(exc) as ei:
        client_for(fake).chat.completions.create(model="m", messages=MESSAGES)
    assert ei.value.status_code == status
    assert ei.value.code == "custom_code"


def test_delay_triggers_timeout(fake: FakeOpenAI) -> None:
    fake.delay(2.0, "too late")
    t0 = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client_for(fake, timeout=0.2).chat.completions.create(model="m", messages=MESSAGES)
    assert time.monotonic() - t0 < 1.5
    assert len(fake.chat_requests) == 1  # recorded on arrival, before the sleep


def test_delay_within_timeout_returns_content(fake: FakeOpenAI) -> None:
    fake.delay(0.05, "worth the wait", completion_tokens=3)
    out = client_for(fake, timeout=2.0).chat.completions.create(model="m", messages=MESSAGES)
    assert out.choices[0].message.content == "worth the wait"
    assert out.usage is not None and out.usage.completion_tokens == 3


def test_streaming_with_usage(fake: FakeOpenAI) -> None:
    text = "a streamed answer that spans several chunks"
    fake.reply(text, prompt_tokens=4, completion_tokens=9)
    stream = client_for(fake).chat.completions.create(
        model="m",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert len([p for p in pieces if p]) > 1
    assert "".join(pieces) == text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    finishes = [f for f in finishes if f]
    assert finishes == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 13
    assert fake.last_request["stream"] is True
    assert fake.last_request["stream_options"] == {"include_usage": True}


def test_streaming_without_usage(fake: FakeOpenAI) -> None:
    fake.reply("short")
    chunks = stream_chunks(fake)
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "short"


def test_streaming_error_raises_before_chunks(fake: FakeOpenAI) -> None:
    fake.error(429, "limited")
    with pytest.raises(openai.RateLimitError):
        client_for(fake).chat.completions.create(model="m", messages=MESSAGES, stream=True)


def test_tool_call(fake: FakeOpenAI) -> None:
    fake.tool_call("get_weather", '{"city": "Paris"}')
    tools: list[ChatCompletionToolParam] = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    out = client_for(fake).chat.completions.create(model="m", messages=MESSAGES, tools=tools)
    choice = out.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    call = calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert call.id.startswith("call-")
    assert fake.last_request["tools"] == tools


def test_tool_call_streamed(fake: FakeOpenAI) -> None:
    fake.tool_call("lookup", {"query": "a fairly long argument string"})
    chunks = stream_chunks(fake)
    name = ""
    args = ""
    for c in chunks:
        for tc in c.choices[0].delta.tool_calls or []:
            if tc.function is not None:
                name += tc.function.name or ""
                args += tc.function.arguments or ""
    assert name == "lookup"
    assert json.loads(args) == {"query": "a fairly long argument string"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_requests_recorded(fake: FakeOpenAI) -> None:
    fake.reply("one").reply("two")
    c = client_for(fake)
    c.chat.completions.create(model="m1", messages=MESSAGES, temperature=0.3)
    c.chat.completions.create(model="m2", messages=[{"role": "user", "content": "again"}])
    assert [r["model"] for r in fake.requests] == ["m1", "m2"]
    first = fake.requests[0]
    assert first["path"] == "/v1/chat/completions"
    assert first["method"] == "POST"
    assert first["messages"] == MESSAGES
    assert first["temperature"] == 0.3
    assert first["body"]["messages"] == MESSAGES
    assert first["headers"]["authorization"] == "Bearer test"
    assert fake.last_messages == [{"role": "user", "content": "again"}]


def test_models_list(fake: FakeOpenAI) -> None:
    models = client_for(fake).models.list()
    ids = [m.id for m in models]
    assert ids == list(fake.models)
    assert fake.requests[-1]["path"] == "/v1/models"
    assert fake.chat_requests == []  # GETs are recorded but are not chat requests


def test_empty_queue_fails_loudly(fake: FakeOpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as ei:
        client_for(fake).chat.completions.create(model="m", messages=MESSAGES)
    assert NO_REPLY_MESSAGE in str(ei.value)
    assert len(fake.chat_requests) == 1


def test_last_messages_without_requests_fails(fake: FakeOpenAI) -> None:
    with pytest.raises(AssertionError, match="no chat completion request"):
        _ = fake.last_messages


def test_assert_all_used_reports_leftovers(fake: FakeOpenAI) -> None:
    fake.reply("never asked")
    assert fake.remaining == 1
    with pytest.raises(AssertionError, match="never consumed"):
        fake.assert_all_used()


def test_unknown_endpoint_is_404_and_bad_json_is_400(fake: FakeOpenAI) -> None:
    r = httpx.post(fake.base_url + "/embeddings", json={"input": "x"})
    assert r.status_code == 404
    assert "unknown endpoint" in r.json()["error"]["message"]
    r = httpx.post(fake.base_url + "/chat/completions", content=b"{not json")
    assert r.status_code == 400
    assert fake.remaining == 0


def test_async_client(fake: FakeOpenAI) -> None:
    import asyncio

    fake.reply("async ok")

    async def go() -> str | None:
        async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0) as c:
            out = await c.chat.completions.create(model="m", messages=MESSAGES)
            return out.choices[0].message.content

    # A fresh thread: Playwright's sync API (browser tests) leaves a loop on the main thread.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, go()).result() == "async ok"


def test_server_stops_on_exit() -> None:
    with FakeOpenAI() as f:
        url = f.base_url
        f.delay(5.0)  # a sleeping handler must not block shutdown
        with pytest.raises(openai.APITimeoutError):
            client_for(f, timeout=0.1).chat.completions.create(model="m", messages=MESSAGES)
    t0 = time.monotonic()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/models", timeout=1.0)
    assert time.monotonic() - t0 < 1.0


def test_props_and_max_model_len_are_served_only_when_set(fake: FakeOpenAI) -> None:
    root = fake.base_url.removesuffix("/v1")
    assert httpx.get(f"{root}/props").status_code == 404
    assert "max_model_len" not in httpx.get(f"{fake.base_url}/models").json()["data"][0]
    fake.props = {"default_generation_settings": {"n_ctx": 1024}}
    fake.max_model_len = 4096
    assert httpx.get(f"{root}/props").json()["default_generation_settings"]["n_ctx"] == 1024
    assert httpx.get(f"{fake.base_url}/models").json()["data"][0]["max_model_len"] == 4096


def test_error_fields_are_added_to_the_error_object(fake: FakeOpenAI) -> None:
    fake.error(400, "too long", type="exceed_context_size_error",
               fields={"n_ctx": 1024, "n_prompt_tokens": 3000})
    with pytest.raises(openai.BadRequestError) as info:
        client_for(fake).chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.body == {"message": "too long", "type": "exceed_context_size_error",
                               "param": None, "code": None, "n_ctx": 1024,
                               "n_prompt_tokens": 3000}

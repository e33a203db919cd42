"""Smoke tests of the real openai SDK against a real llama.cpp server (tiny Gemma 3 270M).

They check the wire STRUCTURE our model provider relies on -- JSON-schema-constrained
output, streaming chunks, usage accounting and error classes -- never answer quality:
the model is a 270M base model and writes nonsense. Skipped on a laptop without the
``llama`` extra; in CI (``CI`` set) a missing extra is a failure, not a silent skip.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from web4os.localmodel import MODEL_ALIAS

pytestmark = pytest.mark.llama

# Bounded lengths keep a rambling tiny model inside max_tokens: an unbounded array or
# string lets it run to the length limit, which yields truncated (unparseable) JSON.
PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": 40},
        "steps": {
            "type": "array",
            "items": {"type": "string", "maxLength": 40},
            "minItems": 1,
            "maxItems": 3,
        },
    },
    "required": ["title", "steps"],
    "additionalProperties": False,
}


@pytest.fixture
def client(llama_url: str) -> Iterator[openai.OpenAI]:
    """No retries, so an error surfaces as its own class at once instead of after backoff."""
    with openai.OpenAI(base_url=llama_url, api_key="x", max_retries=0, timeout=180) as c:
        yield c


def _user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def test_json_schema_response_format_yields_schema_valid_json(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL_ALIAS,
        messages=_user("Plan a picnic. Reply with JSON: a title and up to three short steps."),
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "plan", "strict": True, "schema": PLAN_SCHEMA},
        },
        max_tokens=256,
        temperature=0,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "stop", choice.message.content
    assert choice.message.content is not None
    plan = json.loads(choice.message.content)
    assert set(plan) == {"title", "steps"}
    assert isinstance(plan["title"], str)
    assert len(plan["title"]) <= 40
    assert isinstance(plan["steps"], list)
    assert 1 <= len(plan["steps"]) <= 3
    assert all(isinstance(step, str) and len(step) <= 40 for step in plan["steps"])


def test_streaming_yields_many_chunks_that_assemble_into_text(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL_ALIAS,
        messages=_user("Count from one to five."),
        max_tokens=16,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces: list[str] = []
    finish_reasons: list[str] = []
    usage = None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason is not None:
                finish_reasons.append(choice.finish_reason)
    assert len(pieces) >= 2
    assert "".join(pieces).strip()
    assert finish_reasons in (["stop"], ["length"])
    assert usage is not None
    assert 0 < usage.completion_tokens <= 16


def test_usage_counts_prompt_and_completion_tokens(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL_ALIAS, messages=_user("Say hello."), max_tokens=8, temperature=0
    )
    assert raw.status_code == 200
    completion = raw.parse()
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert 0 < usage.completion_tokens <= 8
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert completion.choices[0].finish_reason in ("stop", "length")


def test_unknown_route_raises_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.get("/no-such-route", cast_to=object)
    assert info.value.status_code == 404


def test_unsupported_parameter_raises_bad_request(client: openai.OpenAI) -> None:
    # llama.cpp serves one choice per request; n=2 is rejected up front.
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL_ALIAS, messages=_user("Hi"), max_tokens=4, n=2)
    assert info.value.status_code == 400


def test_prompt_over_context_raises_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=MODEL_ALIAS, messages=_user("word " * 3000), max_tokens=4
        )
    assert info.value.type == "exceed_context_size_error"


def test_nothing_listening_raises_connection_error() -> None:
    with socket.socket() as sock:  # grab a free port, then free it: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0) as c,
        pytest.raises(openai.APIConnectionError) as info,
    ):
        c.chat.completions.create(model=MODEL_ALIAS, messages=_user("Hi"), max_tokens=4)
    assert not isinstance(info.value, openai.APITimeoutError)


def test_client_timeout_raises_timeout_error(client: openai.OpenAI) -> None:
    # Last on purpose: the server may keep generating for the abandoned request.
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.05).chat.completions.create(
            model=MODEL_ALIAS, messages=_user("Tell a long story."), max_tokens=64
        )

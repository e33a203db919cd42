"""Any OpenAI-compatible chat endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp…).

Retries with backoff on 429/5xx/timeouts are the SDK's own (``max_retries``,
honouring ``Retry-After`` up to 120 s); what is left after them becomes a
``ModelError`` that says whether a later retry of the whole task may help.

Structured answers are asked for with ``response_format`` json_schema (``strict``
when the schema is strict-ready). An endpoint that rejects a keyword of the schema by
name (OpenAI's strict mode refuses ``maxLength``) gets the schema without it; one
that rejects the format gets the same request once more with ``json_object``, then
as plain text (the JSON is extracted from the answer). What worked is remembered
per endpoint for the life of the process.

A prompt that does not fit the context window becomes a ``ModelError`` with
``overflow`` set (and the window the endpoint named is remembered), so the caller
can shorten it and ask again.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

import openai

from web4os.agents.providers.base import (
    ContextOverflow,
    ModelError,
    ModelReply,
    ModelRequest,
    ToolCall,
)
from web4os.agents.providers.cooldowns import COOLDOWNS
from web4os.agents.providers.windows import learn_window, window_of
from web4os.turns import waiting

JsonMode = Literal["json_schema", "json_object", "text"]
_FALLBACK: dict[str, JsonMode] = {"json_schema": "json_object", "json_object": "text"}
_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "structured output",
                 "schema", "grammar")

# Schema keywords an endpoint may refuse by name while accepting the rest of the schema.
_DROPPABLE = ("minLength", "maxLength", "pattern", "minimum", "maximum", "minItems", "maxItems")
_OVERFLOW_WORDS = ("exceeds the available context size", "maximum context length",
                   "context_length_exceeded", "context length exceeded",
                   "exceed_context_size_error")


@dataclass(frozen=True)
class _Learned:
    mode: JsonMode
    dropped: frozenset[str] = frozenset()


_modes: dict[str, _Learned] = {}  # endpoint+model → what worked after a rejection
_modes_lock = threading.Lock()


def forget_json_modes() -> None:
    """Forget learned fallbacks (tests; or after an endpoint upgrade)."""
    with _modes_lock:
        _modes.clear()


def schema_keywords(schema: Any) -> set[str]:
    """The droppable keywords a JSON schema uses (property names are not keywords)."""
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in _DROPPABLE:
                found.add(key)
            elif key in ("properties", "$defs"):
                for sub in value.values():
                    found |= schema_keywords(sub)
            else:
                found |= schema_keywords(value)
    elif isinstance(schema, list):
        for item in schema:
            found |= schema_keywords(item)
    return found


def drop_keywords(schema: Any, dropped: frozenset[str]) -> Any:
    """``schema`` without the ``dropped`` keywords, anywhere in it."""
    if isinstance(schema, dict):
        return {key: ({k: drop_keywords(v, dropped) for k, v in value.items()}
                      if key in ("properties", "$defs") else drop_keywords(value, dropped))
                for key, value in schema.items() if key not in dropped}
    if isinstance(schema, list):
        return [drop_keywords(item, dropped) for item in schema]
    return schema


def _retry_after(exc: openai.APIStatusError) -> float | None:
    """Seconds from ``retry-after-ms`` / ``retry-after`` (numeric forms only)."""
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return None


def _rejects_format(exc: openai.APIStatusError) -> bool:
    """A 400/422 that complains about the response format (not about the prompt)."""
    if exc.status_code not in (400, 422):
        return False
    text = f"{exc.message} {exc.body!r}".lower()
    return any(word in text for word in _FORMAT_WORDS)


def _refused_keywords(exc: openai.APIStatusError, schema: dict[str, Any] | None,
                      dropped: frozenset[str]) -> frozenset[str]:
    """The keywords of ``schema`` a format rejection names (none: the format itself)."""
    text = f"{exc.message} {exc.body!r}".lower()
    used = schema_keywords(schema) - dropped
    return frozenset(word for word in used if word.lower() in text)


def _first_number(text: str, *patterns: str) -> int | None:
    for pattern in patterns:
        found = re.search(pattern, text)
        if found:
            return int(found.group(1))
    return None


def _overflow(exc: openai.APIStatusError) -> ContextOverflow | None:
    """The sizes in a "context exceeded" answer (llama.cpp, OpenAI, vLLM), if it is one."""
    if exc.status_code not in (400, 413):
        return None
    body: dict[str, Any] = exc.body if isinstance(exc.body, dict) else {}
    text = f"{exc.message} {body.get('type', '')} {body.get('code', '')}".lower()
    if not any(word in text for word in _OVERFLOW_WORDS):
        return None
    n_ctx, n_prompt = body.get("n_ctx"), body.get("n_prompt_tokens")  # llama.cpp says both
    return ContextOverflow(
        window=n_ctx if isinstance(n_ctx, int) else _first_number(
            text, r"maximum context length is (\d+)", r"context size \((\d+) tokens\)"),
        prompt_tokens=n_prompt if isinstance(n_prompt, int) else _first_number(
            text, r"request \((\d+) tokens\)", r"resulted in (\d+) tokens",
            r"\((\d+) in the messages"))


def _as_model_error(exc: openai.OpenAIError, timeout: float) -> ModelError:
    if isinstance(exc, openai.APITimeoutError):
        return ModelError(f"The model did not answer within {timeout:g} s.", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return ModelError(f"Could not reach the model endpoint ({exc}).", retryable=True)
    if isinstance(exc, openai.RateLimitError):
        return ModelError("The model endpoint is rate limiting us (429).", retryable=True,
                          status=429, retry_after=_retry_after(exc))
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return ModelError(f"The model endpoint refused our API key ({exc.status_code}): "
                          f"{exc.message}", retryable=False, status=exc.status_code)
    if isinstance(exc, openai.APIStatusError):
        retryable = exc.status_code >= 500 or exc.status_code in (408, 409)
        return ModelError(f"The model endpoint answered {exc.status_code}: {exc.message}",
                          retryable=retryable, status=exc.status_code,
                          retry_after=_retry_after(exc))
    return ModelError(f"The model endpoint sent something we could not read: {exc}",
                      retryable=False)


class OpenAICompatible:
    """Chat completions through the official ``openai`` SDK."""

    offline = False

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str,
        model: str,
        timeout: float = 60.0,
        max_retries: int = 3,
        json_mode: JsonMode = "json_schema",
        api_version: str = "",
        context_tokens: int = 0,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.api_key = api_key
        self.context_tokens = context_tokens  # configured; 0 asks the server
        self.api_version = api_version
        self.json_mode: JsonMode = json_mode
        self.timeout = timeout
        self.label = f"{model} at {base_url or 'api.openai.com'}"
        limits = openai.Timeout(timeout, connect=min(timeout, 10.0))
        self.client: openai.OpenAI
        if api_version:  # Azure OpenAI deployment URLs: /openai/deployments/{model}/…?api-version=
            self.client = openai.AzureOpenAI(azure_endpoint=base_url or "", api_version=api_version,
                                             api_key=api_key, timeout=limits,
                                             max_retries=max_retries)
        else:
            self.client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=limits,
                                        max_retries=max_retries)

    def context_window(self) -> int:
        """The window of this endpoint's model (see ``windows``)."""
        hosted = bool(self.api_version) or "openai.azure.com" in (self.base_url or "")
        return window_of(self.base_url, self.model, configured=self.context_tokens,
                         api_key=self.api_key, hosted=hosted)

    def _mode_key(self, model: str) -> str:
        return f"{self.base_url or 'openai'}|{model}"

    def _learned(self, model: str) -> _Learned:
        with _modes_lock:
            return _modes.get(self._mode_key(model), _Learned(self.json_mode))

    def _learn(self, model: str, learned: _Learned) -> None:
        with _modes_lock:
            _modes[self._mode_key(model)] = learned

    @staticmethod
    def _response_format(request: ModelRequest, learned: _Learned) -> dict[str, Any] | None:
        if request.json_schema is None or learned.mode == "text":
            return None
        if learned.mode == "json_schema":
            spec: dict[str, Any] = {"name": request.schema_name,
                                    "schema": drop_keywords(request.json_schema, learned.dropped)}
            if request.strict:
                spec["strict"] = True
            return {"type": "json_schema", "json_schema": spec}
        return {"type": "json_object"}

    def _after_rejection(self, exc: openai.APIStatusError, request: ModelRequest,
                         learned: _Learned) -> _Learned:
        """What to try after the endpoint rejected ``learned``'s format: the schema without
        the keywords it named, else the next mode."""
        if learned.mode == "json_schema":
            named = _refused_keywords(exc, request.json_schema, learned.dropped)
            if named:
                return _Learned("json_schema", learned.dropped | named)
        return _Learned(_FALLBACK[learned.mode], learned.dropped)

    def complete(self, request: ModelRequest) -> ModelReply:
        started = time.perf_counter()
        model = request.model or self.model
        learned = self._learned(model)
        downgraded: list[str] = []
        while True:
            kwargs: dict[str, Any] = {"model": model, "messages": request.messages,
                                      "max_tokens": request.max_tokens,
                                      "temperature": request.temperature}
            response_format = self._response_format(request, learned)
            if response_format is not None:
                kwargs["response_format"] = response_format
            if request.tools:
                kwargs["tools"] = [{"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.parameters,
                }} for t in request.tools]
                kwargs["tool_choice"] = request.tool_choice
            try:
                with waiting():  # the embedded runner computes other jobs meanwhile
                    COOLDOWNS.wait(self.base_url or "openai")  # an endpoint that said 429
                    raw = self.client.chat.completions.with_raw_response.create(**kwargs)
                response = raw.parse()
                break
            except openai.APIStatusError as exc:
                overflow = _overflow(exc)
                if overflow is not None:
                    if overflow.window:
                        learn_window(self.base_url, model, overflow.window)
                    raise ModelError(
                        f"The prompt does not fit the model's context window: {exc.message}",
                        retryable=False, status=exc.status_code, overflow=overflow) from exc
                if response_format is not None and _rejects_format(exc):
                    downgraded.append(learned.mode)
                    learned = self._after_rejection(exc, request, learned)
                    self._learn(model, learned)
                    continue
                if exc.status_code == 429:
                    COOLDOWNS.hold(self.base_url or "openai", _retry_after(exc))
                raise _as_model_error(exc, self.timeout) from exc
            except openai.OpenAIError as exc:
                raise _as_model_error(exc, self.timeout) from exc
        latency_ms = int((time.perf_counter() - started) * 1000)
        if not response.choices:
            raise ModelError("The model returned no answer.", retryable=True)
        choice = response.choices[0]
        content = choice.message.content or getattr(choice.message, "refusal", None) or ""
        usage = response.usage
        extra: dict[str, Any] = {"finish_reason": choice.finish_reason,
                                 "retries": raw.retries_taken}
        if request.json_schema is not None:
            extra["json_mode"] = learned.mode
        if downgraded:
            extra["rejected_modes"] = downgraded
        if learned.dropped and learned.mode == "json_schema":
            extra["dropped_keywords"] = sorted(learned.dropped)
        calls = [ToolCall(c.id, c.function.name, c.function.arguments or "{}")
                 for c in (choice.message.tool_calls or []) if c.type == "function"]
        return ModelReply(
            tool_calls=calls,
            content=content,
            model=response.model or model,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            latency_ms=latency_ms,
            offline=False,
            extra=extra,
        )

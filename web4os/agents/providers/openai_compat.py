"""Any OpenAI-compatible chat endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp…).

Retries with backoff on 429/5xx/timeouts are the SDK's own (``max_retries``,
honouring ``Retry-After`` up to 120 s); what is left after them becomes a
``ModelError`` that says whether a later retry of the whole task may help.

Structured answers are asked for with ``response_format`` json_schema. Endpoints
that reject it get the same request once more with ``json_object``, then as plain
text (the JSON is extracted from the answer); the mode that worked is remembered
per endpoint for the life of the process.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Literal

import openai

from web4os.agents.providers.base import ModelError, ModelReply, ModelRequest, ToolCall
from web4os.turns import waiting

JsonMode = Literal["json_schema", "json_object", "text"]
_FALLBACK: dict[str, JsonMode] = {"json_schema": "json_object", "json_object": "text"}
_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "structured output",
                 "schema", "grammar")

_modes: dict[str, JsonMode] = {}  # endpoint+model → the mode that worked after a rejection
_modes_lock = threading.Lock()


def forget_json_modes() -> None:
    """Forget learned fallbacks (tests; or after an endpoint upgrade)."""
    with _modes_lock:
        _modes.clear()


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
    ) -> None:
        self.model = model
        self.base_url = base_url
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

    def _mode_key(self, model: str) -> str:
        return f"{self.base_url or 'openai'}|{model}"

    def _mode(self, model: str) -> JsonMode:
        with _modes_lock:
            return _modes.get(self._mode_key(model), self.json_mode)

    @staticmethod
    def _response_format(request: ModelRequest, mode: JsonMode) -> dict[str, Any] | None:
        if request.json_schema is None or mode == "text":
            return None
        if mode == "json_schema":
            return {"type": "json_schema",
                    "json_schema": {"name": request.schema_name, "schema": request.json_schema}}
        return {"type": "json_object"}

    def complete(self, request: ModelRequest) -> ModelReply:
        started = time.perf_counter()
        model = request.model or self.model
        mode = self._mode(model)
        downgraded: list[str] = []
        while True:
            kwargs: dict[str, Any] = {"model": model, "messages": request.messages,
                                      "max_tokens": request.max_tokens,
                                      "temperature": request.temperature}
            response_format = self._response_format(request, mode)
            if response_format is not None:
                kwargs["response_format"] = response_format
            if request.tools:
                kwargs["tools"] = [{"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.parameters,
                }} for t in request.tools]
                kwargs["tool_choice"] = request.tool_choice
            try:
                with waiting():  # the embedded runner computes other jobs meanwhile
                    raw = self.client.chat.completions.with_raw_response.create(**kwargs)
                response = raw.parse()
                break
            except openai.APIStatusError as exc:
                if response_format is not None and _rejects_format(exc):
                    downgraded.append(mode)
                    mode = _FALLBACK[mode]
                    with _modes_lock:
                        _modes[self._mode_key(model)] = mode
                    continue
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
            extra["json_mode"] = mode
        if downgraded:
            extra["rejected_modes"] = downgraded
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

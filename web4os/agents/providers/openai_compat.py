"""Any OpenAI-compatible chat endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp…).

Retries with backoff on 429/5xx/timeouts are the SDK's own (``max_retries``);
what is left after them becomes a ``ModelError`` that says whether a later
retry of the whole task may help.
"""

from __future__ import annotations

import time
from typing import Any

import openai

from web4os.agents.providers.base import ModelError, ModelReply, ModelRequest


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
        json_mode: str = "json_schema",
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.json_mode = json_mode
        self.label = f"{model} at {base_url or 'api.openai.com'}"
        self.client = openai.OpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries
        )

    def _response_format(self, request: ModelRequest) -> dict[str, Any] | None:
        if request.json_schema is None:
            return None
        if self.json_mode == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": request.json_schema},
            }
        return {"type": "json_object"}

    def complete(self, request: ModelRequest) -> ModelReply:
        started = time.perf_counter()
        kwargs: dict[str, Any] = {
            "model": request.model or self.model,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        response_format = self._response_format(request)
        if response_format is not None:
            kwargs["response_format"] = response_format
        try:
            response = self.client.chat.completions.create(**kwargs)
        except openai.APITimeoutError as exc:
            raise ModelError(f"The model did not answer in time ({exc}).", retryable=True) from exc
        except openai.APIConnectionError as exc:
            raise ModelError(f"Could not reach the model endpoint: {exc}.", retryable=True) from exc
        except openai.RateLimitError as exc:
            raise ModelError("The model endpoint is rate limiting us (429).", retryable=True,
                             status=429) from exc
        except openai.APIStatusError as exc:
            retryable = exc.status_code >= 500
            raise ModelError(f"The model endpoint answered {exc.status_code}: {exc.message}",
                             retryable=retryable, status=exc.status_code) from exc
        latency_ms = int((time.perf_counter() - started) * 1000)
        if not response.choices:
            raise ModelError("The model returned no answer.", retryable=True)
        content = response.choices[0].message.content or ""
        usage = response.usage
        return ModelReply(
            content=content,
            model=response.model or kwargs["model"],
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            latency_ms=latency_ms,
            offline=False,
            extra={"finish_reason": response.choices[0].finish_reason},
        )

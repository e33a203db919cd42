"""Model providers: choose the offline model or an OpenAI-compatible endpoint.

Which endpoint an agent calls, and with which key:

- the agent's own ``base_url`` if it has one, else ``WEB4OS_OPENAI_BASE_URL``;
- the global ``WEB4OS_OPENAI_API_KEY`` goes only to the global endpoint. An agent
  endpoint must be listed in ``WEB4OS_MODEL_ENDPOINTS`` (``{url: KEY_ENV_VAR}``), and
  gets the key from that environment variable (or none). So an account owner can
  never point an agent at their own server and collect the platform's key;
- the agent's ``model`` if set, else ``WEB4OS_OPENAI_MODEL``;
- nothing configured at all: the offline model.

The model's context window: ``WEB4OS_MODEL_CONTEXT_WINDOWS`` for its model name, else
for its endpoint, else ``WEB4OS_MODEL_CONTEXT_TOKENS``; unset, the server is asked.
Whether it reads images: its model name or endpoint is in ``WEB4OS_MODEL_IMAGES``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from web4os.agents.models import Agent
from web4os.agents.providers.base import ModelError, ModelProvider, ModelReply, ModelRequest
from web4os.agents.providers.offline import OfflineModel
from web4os.config import OFFLINE_LABEL, Settings, get_settings

__all__ = [
    "OFFLINE_LABEL",
    "ModelError",
    "ModelProvider",
    "ModelReply",
    "ModelRequest",
    "OfflineModel",
    "endpoint_allowed",
    "provider_for",
    "reads_images",
]

_override: ModelProvider | None = None
NO_KEY = "not-needed"  # local servers (Ollama, vLLM, llama.cpp) accept any key


def set_provider_override(provider: ModelProvider | None) -> None:
    """Force every agent onto one provider (tests and benchmarks use this)."""
    global _override
    _override = provider


def normalize_url(url: str) -> str:
    return url.strip().rstrip("/")


def endpoint_allowed(url: str, settings: Settings | None = None) -> bool:
    """Whether an agent may be pointed at ``url`` (the global one or a listed one)."""
    settings = settings or get_settings()
    url = normalize_url(url)
    listed = {normalize_url(u) for u in settings.model_endpoints}
    return not url or url == normalize_url(settings.openai_base_url) or url in listed


@dataclass(frozen=True)
class Endpoint:
    base_url: str | None
    api_key: str


def endpoint_for(agent: Agent | None, settings: Settings) -> Endpoint | None:
    """The endpoint and key for an agent; None means the offline model.

    Raises ``ModelError`` (not retryable) for an agent endpoint this server does not allow.
    """
    global_url = normalize_url(settings.openai_base_url)
    agent_url = normalize_url(agent.base_url) if agent else ""
    if agent_url and agent_url != global_url:
        listed = {normalize_url(u): env for u, env in settings.model_endpoints.items()}
        if agent_url not in listed:
            raise ModelError(
                f"The endpoint {agent_url} set on agent “{agent.slug if agent else '?'}” is not "
                "enabled on this server (ask your admin to add it to WEB4OS_MODEL_ENDPOINTS).",
                retryable=False)
        key_env = listed[agent_url]
        return Endpoint(agent_url, (os.environ.get(key_env, "") if key_env else "") or NO_KEY)
    if not global_url and not settings.openai_api_key:
        return None
    return Endpoint(global_url or None, settings.openai_api_key or NO_KEY)


class Unavailable:
    """A provider that only explains why this agent cannot call a model."""

    offline = False

    def __init__(self, error: ModelError) -> None:
        self.error = error
        self.label = "unavailable"

    def complete(self, request: ModelRequest) -> ModelReply:
        raise self.error


def configured_window(settings: Settings, base_url: str | None, model: str) -> int:
    """The context window configured for a model at an endpoint (0: none configured)."""
    windows = {normalize_url(k) if "/" in k else k: v
               for k, v in settings.model_context_windows.items()}
    return (windows.get(model) or windows.get(normalize_url(base_url or ""))
            or settings.model_context_tokens)


def reads_images(agent: Agent | None, settings: Settings | None = None) -> bool:
    """Whether the agent's model is listed as reading images (never the offline model, nor
    an endpoint this server does not allow)."""
    settings = settings or get_settings()
    try:
        endpoint = endpoint_for(agent, settings)
    except ModelError:
        return False
    if endpoint is None or not settings.model_images:
        return False
    model = (agent.model if agent else "") or settings.openai_model
    listed = {normalize_url(k) if "/" in k else k for k in settings.model_images}
    return model in listed or normalize_url(endpoint.base_url or "") in listed


@lru_cache(maxsize=64)
def _client(base_url: str | None, api_key: str, model: str, timeout: float, retries: int,
            json_mode: str, api_version: str, context_tokens: int) -> ModelProvider:
    """One SDK client per endpoint configuration, so connections are reused."""
    from web4os.agents.providers.openai_compat import OpenAICompatible

    return OpenAICompatible(base_url=base_url, api_key=api_key, model=model, timeout=timeout,
                            max_retries=retries, json_mode=json_mode,  # type: ignore[arg-type]
                            api_version=api_version, context_tokens=context_tokens)


def provider_for(agent: Agent | None, settings: Settings | None = None) -> ModelProvider:
    """The provider an agent calls: its own endpoint, else the global one, else offline."""
    if _override is not None:
        return _override
    settings = settings or get_settings()
    try:
        endpoint = endpoint_for(agent, settings)
    except ModelError as exc:
        return Unavailable(exc)
    if endpoint is None:
        return OfflineModel(latency_seconds=settings.offline_latency_seconds)
    model = (agent.model if agent else "") or settings.openai_model
    return _client(endpoint.base_url, endpoint.api_key, model, settings.model_timeout_seconds,
                   settings.model_max_retries, settings.openai_json_mode,
                   settings.openai_api_version,
                   configured_window(settings, endpoint.base_url, model))

"""Model providers: choose the offline model or an OpenAI-compatible endpoint."""

from __future__ import annotations

from web4os.agents.models import Agent
from web4os.agents.providers.base import ModelError, ModelProvider, ModelReply, ModelRequest
from web4os.agents.providers.offline import OFFLINE_LABEL, OfflineModel
from web4os.config import Settings, get_settings

__all__ = [
    "OFFLINE_LABEL",
    "ModelError",
    "ModelProvider",
    "ModelReply",
    "ModelRequest",
    "OfflineModel",
    "provider_for",
]

_override: ModelProvider | None = None


def set_provider_override(provider: ModelProvider | None) -> None:
    """Force every agent onto one provider (tests and benchmarks use this)."""
    global _override
    _override = provider


def provider_for(agent: Agent | None, settings: Settings | None = None) -> ModelProvider:
    """The provider an agent calls: its own endpoint, else the global one, else offline."""
    if _override is not None:
        return _override
    settings = settings or get_settings()
    base_url = (agent.base_url if agent else "") or settings.openai_base_url
    if not base_url and not settings.openai_api_key:
        return OfflineModel(latency_seconds=settings.offline_latency_seconds)
    from web4os.agents.providers.openai_compat import OpenAICompatible

    return OpenAICompatible(
        base_url=base_url or None,
        api_key=settings.openai_api_key or "not-needed",
        model=(agent.model if agent else "") or settings.openai_model,
        timeout=settings.model_timeout_seconds,
        max_retries=settings.model_max_retries,
    )

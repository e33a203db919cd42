"""The context window of an endpoint's model.

Configured (``WEB4OS_MODEL_CONTEXT_TOKENS``, or per model or endpoint in
``WEB4OS_MODEL_CONTEXT_WINDOWS``), else what the server reports: llama.cpp's
per-slot ``n_ctx`` in ``GET /props`` (the slots share the ``-c`` context), vLLM's
``max_model_len`` in ``GET /v1/models``. Else a default small local models have
(OpenAI and Azure OpenAI, which are not asked, get their models' window).
An endpoint that answered "context exceeded" with its size narrows the window for
the rest of the process. Servers are asked once per endpoint and model.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from web4os.turns import waiting

DEFAULT_WINDOW = 4096  # Ollama's default num_ctx; llama.cpp servers report theirs
OPENAI_WINDOW = 128_000  # the chat models of OpenAI and Azure OpenAI
PROBE_TIMEOUT = 3.0

_reported: dict[str, int | None] = {}
_learned: dict[str, int] = {}
_lock = threading.Lock()


def forget_windows() -> None:
    """Forget what servers reported and taught (tests; or after a server restart)."""
    with _lock:
        _reported.clear()
        _learned.clear()


def _key(base_url: str | None, model: str) -> str:
    return f"{base_url or 'openai'}|{model}"


def window_of(base_url: str | None, model: str, *, configured: int, api_key: str = "",
              hosted: bool = False) -> int:
    """The window to budget for: configured, else reported, else the default (OpenAI's
    for ``hosted`` OpenAI and Azure, which are not asked); never more than the endpoint
    said when a prompt did not fit."""
    key = _key(base_url, model)
    if configured:
        window = configured
    elif hosted or base_url is None:
        window = OPENAI_WINDOW
    else:
        window = _reported_window(key, base_url, model, api_key) or DEFAULT_WINDOW
    with _lock:
        learned = _learned.get(key)
    return min(window, learned) if learned else window


def learn_window(base_url: str | None, model: str, window: int) -> None:
    """Remember the window an endpoint named in a "context exceeded" answer."""
    if window > 0:
        with _lock:
            _learned[_key(base_url, model)] = window


def _reported_window(key: str, base_url: str, model: str, api_key: str) -> int | None:
    with _lock:
        if key in _reported:
            return _reported[key]
    try:
        found = probe_window(base_url, model, api_key)
    except httpx.TransportError:
        return None  # unreachable now: ask again next time
    with _lock:
        _reported[key] = found
    return found


def probe_window(base_url: str, model: str, api_key: str = "") -> int | None:
    """What the server says its context window is, or None if it does not say."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    base = base_url.rstrip("/")
    root = base.removesuffix("/v1")
    with waiting(), httpx.Client(timeout=PROBE_TIMEOUT, headers=headers) as client:
        props = _get_json(client, f"{root}/props")
        n_ctx = _positive(_dig(props, "default_generation_settings", "n_ctx"))
        if n_ctx:
            return n_ctx
        listing = _get_json(client, f"{base}/models")
    models = listing.get("data") if isinstance(listing, dict) else None
    if not isinstance(models, list):
        return None
    entries = [m for m in models if isinstance(m, dict)]
    chosen = [m for m in entries if m.get("id") == model] or entries[:1]
    return _positive(chosen[0].get("max_model_len")) if chosen else None


def _get_json(client: httpx.Client, url: str) -> Any:
    """The JSON at ``url``, or None for an error status or a body that is not JSON."""
    response = client.get(url)
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _dig(data: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(data, dict):
            return None
        data = data.get(name)
    return data


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
        else None

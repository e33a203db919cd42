"""Why a model's work failed, in the operator's words.

A parser's complaint ("Expecting ',' delimiter: line 227") or an endpoint's error body
means nothing to someone running a bakery. The card or goal says what happened and
what usually helps; the technical message stays in the history (and the raw answer on
the card), for whoever wants it.
"""

from __future__ import annotations

import re

from web4os.agents.providers import ModelError
from web4os.agents.structured import StructuredOutputError
from web4os.errors import DomainError

_CONTEXT = re.compile(r"context (size|length|window)|too many tokens|maximum context|"
                      r"prompt is too long|exceeds the (available )?context", re.I)
_BROKEN_JSON = re.compile(r"Expecting |Unterminated |Extra data|Invalid control character|"
                          r"Invalid \\escape|delimiter|JSON", re.I)
_SHAPE = re.compile(r"Field required|Input should|String should|List should|at least \d|"
                    r"at most \d|validation error", re.I)
_PROBLEM = "not valid after a retry: "


def technical(error: Exception | None) -> str:
    """The error as the code saw it (kept in the history beside the plain reason)."""
    if error is None:
        return ""
    return str(getattr(error, "message", None) or error)


def failure_data(error: Exception | None, charged: int) -> dict[str, object]:
    """A failed plan's event data: what its attempt cost, and the model's raw answer."""
    data: dict[str, object] = {"credits": charged}
    raw = getattr(error, "raw", "")
    if raw:
        data["raw"] = raw[:20000]
    return data


def plain_reason(error: Exception | None, who: str) -> str:
    """One or two sentences on what went wrong with ``who``'s model call (e.g. "The CEO
    agent"), and what usually helps. Never empty."""
    if error is None:
        return f"{who} gave no usable answer."
    if isinstance(error, ModelError):
        return _model_error(error, who)
    if isinstance(error, StructuredOutputError):
        return _invalid_answer(error.message, who)
    if isinstance(error, DomainError):  # a planning rule: its message is plain already
        return f"{who}'s plan broke a planning rule: {error.message}"
    return f"{who}'s work failed: {technical(error)}"


def _model_error(error: ModelError, who: str) -> str:
    text = str(error)
    if _CONTEXT.search(text):
        return (f"The request was too long for {who}'s model: it does not fit the model's "
                "context window. A model with a larger context window, or a shorter brief, "
                "helps.")
    if error.status in (401, 403):
        return ("The model endpoint refused the key (it answered "
                f"{error.status}). Ask your admin to check the key for this endpoint.")
    if error.status == 404:
        return (f"The model endpoint does not know the model set for {who} (it answered "
                "404). Check the agent's model name.")
    if error.retryable:
        return (f"The model endpoint did not answer after several tries ({text.rstrip('.')}). "
                "Try again later, or switch to another model.")
    return text


def _invalid_answer(message: str, who: str) -> str:
    problem = message.split(_PROBLEM, 1)[1] if _PROBLEM in message else message
    if _BROKEN_JSON.search(problem) and not _SHAPE.search(problem):
        return (f"{who}'s model answered twice with something that is not complete JSON: "
                "its answer was cut off, or written as prose. A larger model, or one with "
                "a larger output limit, usually helps.")
    if _SHAPE.search(problem):
        return (f"{who}'s model answered twice with JSON of the wrong shape (fields missing "
                "or too long), even after being told what was wrong.")
    return f"{who}'s answer was not usable, even after one re-ask: {problem}"

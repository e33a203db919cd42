"""Models that fail the way small real models do, for tests of the ways on.

Each wraps the offline model and breaks only what it is told to: a plan (or a card)
whose JSON answer stops half-way, as a model's does when it runs out of output
tokens, or an endpoint that stays busy.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from web4os.agents.providers import ModelError, ModelReply, ModelRequest, OfflineModel


def _mentions(request: ModelRequest, titles: Collection[str]) -> bool:
    return any(f"TASK: {title}" in str(m.get("content") or "")
               for m in request.messages for title in titles)


class CutOffAnswers:
    """The offline model, except that plans and re-plans (and the cards titled in
    ``cards``) come back cut off mid-JSON, the repair re-ask too. ``healthy = True``
    stands for the operator switching the CEO agent to a model that works."""

    label = "cut-off answers"
    offline = True

    def __init__(self, *, purposes: Collection[str] = ("plan", "replan"),
                 cards: Collection[str] = ()) -> None:
        self.inner = OfflineModel()
        self.purposes, self.cards = set(purposes), set(cards)
        self.healthy = False

    def complete(self, request: ModelRequest) -> ModelReply:
        reply = self.inner.complete(request)
        broken = request.purpose in self.purposes or (
            request.purpose == "task" and _mentions(request, self.cards))
        if self.healthy or not broken:
            return reply
        return replace(reply, content=reply.content[: len(reply.content) // 2])


class BusyPlans:
    """The offline model, except that every plan meets a busy endpoint (a 503)."""

    label = "busy plans"
    offline = True

    def __init__(self) -> None:
        self.inner = OfflineModel()

    def complete(self, request: ModelRequest) -> ModelReply:
        if request.purpose == "plan":
            raise ModelError("The model endpoint answered 503: busy", retryable=True, status=503)
        return self.inner.complete(request)

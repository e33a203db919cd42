"""A goal's history in the operator's words: who did what, first; the model's tokens and
the tools' internals kept apart, one click away."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from web4os.goals.models import TaskEvent

TECHNICAL = frozenset({"model_call", "tool_run", "tool_call", "repair", "retry", "discarded"})
"""Kinds of event that explain *how* work was done, not what happened."""
CARD_TECHNICAL = frozenset({"model_call", "repair", "retry", "discarded"})
"""On a card's own timeline the tool calls stay in view (their arguments one click away)."""

_CARD_MOVES = {
    ("needs_review", "queued"): "sent back",
    ("needs_review", "done"): "approved",
    ("running", "done"): "finished",
    ("queued", "running"): "started",
    ("running", "needs_review"): "delivered, for review:",
    ("running", "failed"): "could not finish",
    ("running", "queued"): "will try again:",
}
_CARD_TO = {
    "queued": "queued", "planned": "put back in the plan:", "blocked": "put on hold:",
    "cancelled": "cancelled", "failed": "marked failed:", "done": "finished",
    "running": "started", "needs_review": "delivered, for review:",
}
_GOAL_TO = {
    "planning": "started planning the goal", "running": "started the work",
    "completing": "is writing the summary", "completed": "finished the goal",
    "paused": "paused the goal", "failed": "stopped the goal", "cancelled": "cancelled the goal",
}


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the feed: ``who`` did ``what`` (to ``card``), with the raw ``detail``."""

    when: datetime
    who: str
    what: str
    card: str
    detail: str
    technical: bool


@dataclass(frozen=True, slots=True)
class Feed:
    happened: list[Line]
    technical: list[Line]


def who(actor: str, names: Mapping[str, str]) -> str:
    """A person's email, an agent's name, or "web4os" for the system's own moves."""
    kind, _, name = actor.partition(":")
    if kind == "user" and name:
        return name
    if kind == "agent" and name:
        return names.get(name, name)
    if actor == "ceo":
        return names.get("ceo", "CEO agent")
    if actor in ("system", "test", ""):
        return "web4os"
    return names.get(actor, actor)


def line(event: TaskEvent, names: Mapping[str, str], titles: Mapping[int, str]) -> Line:
    """``event`` as a sentence's parts."""
    card = titles.get(event.task_id or 0, "") if event.task_id else ""
    src, dst = event.from_status or "", event.to_status or ""
    detail = event.message
    if event.kind == "status":
        what = _CARD_MOVES.get((src, dst)) or _CARD_TO.get(dst, dst.replace("_", " "))
        if what == "sent back":
            detail = event.message.removeprefix("Sent back: ")
    elif event.kind == "goal_status":
        what = _GOAL_TO.get(dst, dst)
    elif event.kind == "model_call":
        data = event.data or {}
        tokens = int(data.get("prompt_tokens", 0) or 0) + int(data.get("completion_tokens", 0) or 0)
        what = f"called the model ({tokens:,} tokens)"
        detail = f"{data.get('purpose') or 'call'} · {data.get('model', '')}"
    else:
        what, detail = event.message, ""
    return Line(event.created_at, who(event.actor, names), what, card, detail,
                event.kind in TECHNICAL)


def feed(events: Sequence[TaskEvent], names: Mapping[str, str],
         titles: Mapping[int, str]) -> Feed:
    """The feed's lines, newest first: what happened, and the technical steps apart."""
    lines = [line(e, names, titles) for e in events]
    return Feed([x for x in lines if not x.technical], [x for x in lines if x.technical])

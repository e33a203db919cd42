"""What web4os tells its operators about: the event types, in their words.

The names are a contract: webhooks carry them and routines and budgets raise two of
them, so they are never renamed.
"""

from __future__ import annotations

import enum


class Event(enum.StrEnum):
    CARD_NEEDS_REVIEW = "card.needs_review"
    TOOL_CALL_WAITING = "tool_call.waiting"
    CARD_FAILED = "card.failed"
    GOAL_COMPLETED = "goal.completed"
    WORK_BLOCKED = "work.blocked"
    ROUTINE_FAILED = "routine.failed"
    CREDITS_LOW = "credits.low"
    BUDGET_WARNING = "budget.warning"


LABELS: dict[Event, str] = {
    Event.CARD_NEEDS_REVIEW: "A card needs your review",
    Event.TOOL_CALL_WAITING: "A tool call waits for your approval",
    Event.CARD_FAILED: "A card failed",
    Event.GOAL_COMPLETED: "A goal completed",
    Event.WORK_BLOCKED: "Work stopped for credits or a cap",
    Event.ROUTINE_FAILED: "A routine's run failed",
    Event.CREDITS_LOW: "Credits are running low",
    Event.BUDGET_WARNING: "A monthly budget nears its limit",
}

# The list's chip: a word or two.
CHIPS: dict[Event, str] = {
    Event.CARD_NEEDS_REVIEW: "review",
    Event.TOOL_CALL_WAITING: "tool call",
    Event.CARD_FAILED: "failed",
    Event.GOAL_COMPLETED: "completed",
    Event.WORK_BLOCKED: "stopped",
    Event.ROUTINE_FAILED: "routine",
    Event.CREDITS_LOW: "credits",
    Event.BUDGET_WARNING: "budget",
}

# Events that ask someone to act on a card. A viewer cannot, so for viewers these are
# news, not requests: they are listed, not counted on the bell, and not mailed unless
# the viewer opts in.
ACTIONABLE = frozenset({Event.CARD_NEEDS_REVIEW, Event.TOOL_CALL_WAITING, Event.CARD_FAILED})


def default_events(*, can_act: bool) -> frozenset[Event]:
    """The events mailed to a member who has not chosen: all of them, except the
    requests to act for someone who cannot act on them."""
    return frozenset(Event) if can_act else frozenset(Event) - ACTIONABLE


def parse_events(names: list[str] | tuple[str, ...]) -> frozenset[Event]:
    """Known event names among ``names`` (unknown ones, e.g. from an older form, dropped)."""
    known = {e.value for e in Event}
    return frozenset(Event(n) for n in names if n in known)

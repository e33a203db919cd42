"""What a goal and its cards say about themselves, and which item the operator sees next.

The goal page's status is computed from what its cards are doing, not from the goal's
own status alone: a running goal whose cards all wait for review is waiting for the
operator, not working, and one whose cards wait for credits says what unblocks it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus
from web4os.goals.scheduling import OUT_OF_CREDITS

CREDITS_RESUME = "Work resumes by itself when credits arrive."


def hold_kind(status: TaskStatus, reason: str) -> str:
    """Why a blocked card waits: ``credits`` (the account's balance), ``cap`` (a credit
    cap an owner set) or ``approval`` (a tool call waiting for the operator)."""
    if status != TaskStatus.BLOCKED:
        return ""
    if reason == OUT_OF_CREDITS or reason.startswith("Out of credits"):
        return "credits"
    if reason.startswith("Paused:"):
        return "cap"
    return "approval"


@dataclass(frozen=True, slots=True)
class GoalState:
    """The goal's status in the operator's words.

    ``live`` is true only while something actually runs (a plan, a card, the summary);
    ``tone`` picks the badge's colour; ``detail`` says what unblocks a waiting goal."""

    label: str
    tone: str
    live: bool
    detail: str = ""


def goal_state(goal: Goal, counts: Mapping[TaskStatus, int], *, credit_blocked: int | None = 0,
               ways_on: bool = False) -> GoalState:
    """What is true of ``goal`` now, from its status and its cards' ``counts``.

    ``credit_blocked``: how many of the blocked cards wait for credits; ``None`` when the
    caller does not know (a list of goals), and they are then just "on hold"."""
    status = goal.status
    if status == GoalStatus.COMPLETED:
        return GoalState("Finished", "completed", False)
    if status == GoalStatus.CANCELLED:
        return GoalState("Cancelled", "cancelled", False)
    if status == GoalStatus.PLANNING:
        return GoalState("Planning", "planning", True)
    if status == GoalStatus.COMPLETING:
        return GoalState("Writing the summary", "completing", True)
    if status == GoalStatus.FAILED or ways_on:
        return GoalState("Stopped: needs you", "failed", False,
                         "The CEO agent could not go on; pick a way on below.")
    if status == GoalStatus.PAUSED:
        return GoalState("Paused: credit cap reached", "paused", False,
                         "An owner can raise or remove the goal's credit cap.")
    return _running_state(counts, credit_blocked)


def _running_state(counts: Mapping[TaskStatus, int], known: int | None) -> GoalState:
    running = counts.get(TaskStatus.RUNNING, 0)
    queued = counts.get(TaskStatus.QUEUED, 0)
    yours = counts.get(TaskStatus.NEEDS_REVIEW, 0) + counts.get(TaskStatus.FAILED, 0)
    on_hold = counts.get(TaskStatus.BLOCKED, 0)
    credit_blocked = on_hold if known is None else known
    approvals = 0 if known is None else on_hold - known
    if running:
        return GoalState(f"Working ({running} running)", "running", True)
    if queued:
        return GoalState(f"Starting ({queued} up next)", "running", True)
    if yours or approvals:
        detail = f"{_cards(credit_blocked)} also wait for credits. {CREDITS_RESUME}" \
            if credit_blocked and known is not None else ""
        return GoalState(f"Waiting for you ({yours + approvals})", "waiting", False, detail)
    if credit_blocked and known is None:
        return GoalState(f"On hold ({credit_blocked})", "credits", False)
    if credit_blocked:
        return GoalState(f"Waiting for credits ({credit_blocked})", "credits", False,
                         CREDITS_RESUME)
    return GoalState("Waiting", "waiting", False)


def listed_state(goal: Goal, by_status: Mapping[str, int]) -> GoalState:
    """``goal_state`` for a list of goals, from ``GoalProgress.by_status``."""
    counts = {TaskStatus(k): v for k, v in by_status.items()}
    return goal_state(goal, counts, credit_blocked=None)


def _cards(n: int) -> str:
    return f"{n} card" if n == 1 else f"{n} cards"


# --- what opens next ------------------------------------------------------------

TRIAGE_ORDER = (TaskStatus.NEEDS_REVIEW, TaskStatus.FAILED, TaskStatus.BLOCKED)
"""The inbox's groups, in order: results to review first, then failures, then work on hold."""


def in_triage_order(cards: Sequence[Task]) -> list[Task]:
    """The cards grouped as the inbox shows them (stable within a group: newest first)."""
    rank = {status: i for i, status in enumerate(TRIAGE_ORDER)}
    return sorted(cards, key=lambda t: rank.get(t.status, len(rank)))


def next_after(ids: Sequence[int], acted: int) -> int | None:
    """The item that opens after acting on ``acted``: the one below it, else the one
    above it (``acted`` was last), else none (it was the only one)."""
    if acted not in ids:
        return ids[0] if ids else None
    i = list(ids).index(acted)
    rest = [*ids[i + 1:], *reversed(ids[:i])]
    return rest[0] if rest else None

"""Which item opens after the operator acts on one, inline on the board or in *Needs you*.

Worked out before the action: the acted card leaves the list (approved, or queued again
when sent back), and the operator goes on with the item that was below it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from web4os.goals import board
from web4os.goals import service as goals
from web4os.goals.models import Task, TaskStatus
from web4os.goals.triage import in_triage_order, next_after
from web4os.tenancy import AccountId, of_account

PLACES = ("inbox", "board")
"""Where an inline action came from, and so where the operator goes on (never a URL)."""


def inbox_order(session: Session, account_id: AccountId) -> list[Task]:
    """The inbox's cards as it shows them: results to review, failures, work on hold."""
    return in_triage_order(board.needs_you(session, account_id))


def next_item(session: Session, account_id: AccountId, task_id: int, place: str) -> int | None:
    """The card that opens after acting on ``task_id`` from ``place``: the inbox's next
    item, or the next result to review on the card's goal."""
    if place == "inbox":
        ids = [t.id for t in inbox_order(session, account_id)]
    else:
        goal_id = goals.get_task(session, account_id, task_id).goal_id
        ids = list(session.scalars(
            select(Task.id).where(of_account(Task, account_id), Task.goal_id == goal_id,
                                  Task.status == TaskStatus.NEEDS_REVIEW)
            .order_by(Task.position, Task.id)))
    return next_after(ids, task_id)


def place_url(place: str, goal_id: int, opened: int | None) -> str:
    """The page to go on from, with the next item open (``?open=`` marks it)."""
    query = f"?open={opened}" if opened else ""
    if place == "inbox":
        return f"/inbox{query}"
    return f"/goals/{goal_id}{query}"


def next_for_you(session: Session, account_id: AccountId, task_id: int) -> Task | None:
    """The first item of *Needs you* other than this card: where a card's page goes on."""
    return next((t for t in inbox_order(session, account_id) if t.id != task_id), None)

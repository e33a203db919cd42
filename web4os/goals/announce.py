"""Telling the account's members when work starts waiting on them, or a goal ends.

The state machine reports every move of a card or goal here. What a transaction
*leaves* waiting is announced just before it commits, in that transaction: a card
that reaches review and is sent straight back by the CEO agent in the same
transaction was never waiting, and a change that rolls back announces nothing.
Each announcement names its occurrence (``once_key``: the card, its attempt and
status), so a redelivered job that repeats a move records no second notification.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus
from web4os.notifications.events import Event
from web4os.notifications.service import notify
from web4os.tenancy import AccountId
from web4os.tools.calls import waiting_calls

_PENDING = "web4os.goals.announce"
CARD_WAITS = frozenset({TaskStatus.NEEDS_REVIEW, TaskStatus.FAILED, TaskStatus.BLOCKED})
GOAL_NEWS = frozenset({GoalStatus.COMPLETED, GoalStatus.PAUSED})
MAX_BODY = 1000


def card_moved(session: Session, task: Task, to: TaskStatus) -> None:
    """Note a card's move; it is announced at commit if it still waits then."""
    _note(session, ("task", task.id), task, to in CARD_WAITS)


def goal_moved(session: Session, goal: Goal, to: GoalStatus) -> None:
    """Note a goal's move (completed, or paused for credits or a cap)."""
    _note(session, ("goal", goal.id), goal, to in GOAL_NEWS)


def _note(session: Session, key: tuple[str, int], row: Task | Goal, news: bool) -> None:
    if news:
        session.info.setdefault(_PENDING, {})[key] = (row, row.status)
    elif pending := session.info.get(_PENDING):
        pending.pop(key, None)


@event.listens_for(Session, "before_commit")
def _announce(session: Session) -> None:
    if session.in_nested_transaction() or not session.info.get(_PENDING):
        return
    pending: dict[tuple[str, int], Any] = session.info.pop(_PENDING)
    paused = {key[1] for key, (row, to) in pending.items()
              if key[0] == "goal" and row.status == to == GoalStatus.PAUSED}
    blocked_goals: set[int] = set()
    for (kind, _id), (row, to) in pending.items():
        if row.status != to:  # it moved on within this transaction (or a savepoint undid it)
            continue
        if kind == "goal":
            _goal_news(session, row)
        elif to == TaskStatus.BLOCKED:
            if _tool_call_waits(session, row):
                continue
            if row.goal_id not in paused and row.goal_id not in blocked_goals:
                blocked_goals.add(row.goal_id)  # one notice per goal, not one per card
                _card_news(session, row, Event.WORK_BLOCKED, "stopped for credits or a cap")
        elif to == TaskStatus.NEEDS_REVIEW:
            _card_news(session, row, Event.CARD_NEEDS_REVIEW, "needs your review")
        else:
            _card_news(session, row, Event.CARD_FAILED, "failed")


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, _previous: Any) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING, None)


def _card_news(session: Session, task: Task, event_: Event, what: str) -> None:
    notify(session, AccountId(task.account_id), event_, title=f"“{task.title}” {what}",
           body=(task.status_reason or "")[:MAX_BODY],
           link=f"/goals/{task.goal_id}/tasks/{task.id}", goal_id=task.goal_id,
           task_id=task.id, once_key=f"task:{task.id}:a{task.attempts}:{task.status.value}")


def _tool_call_waits(session: Session, task: Task) -> bool:
    """A card blocked on the operator's decision about a tool call: say so (once per call)."""
    calls = waiting_calls(session, AccountId(task.account_id), task.id)
    if not calls:
        return False
    call = calls[-1]
    notify(session, AccountId(task.account_id), Event.TOOL_CALL_WAITING,
           title=f"“{task.title}” waits for your decision on {call.server_name}.{call.tool_name}",
           body=(task.status_reason or "")[:MAX_BODY],
           link=f"/goals/{task.goal_id}/tasks/{task.id}", goal_id=task.goal_id,
           task_id=task.id, once_key=f"tool_call:{call.id}:waiting")
    return True


def _goal_news(session: Session, goal: Goal) -> None:
    aid, link = AccountId(goal.account_id), f"/goals/{goal.id}"
    if goal.status == GoalStatus.COMPLETED:
        notify(session, aid, Event.GOAL_COMPLETED, title=f"Goal “{goal.title}” completed",
               body=(goal.summary or "")[:MAX_BODY], link=link, goal_id=goal.id,
               once_key=f"goal:{goal.id}:completed")
        return
    stamp = goal.updated_at.isoformat() if goal.updated_at else ""
    notify(session, aid, Event.WORK_BLOCKED, title=f"Goal “{goal.title}” paused",
           body=(goal.status_reason or "")[:MAX_BODY], link=link, goal_id=goal.id,
           once_key=f"goal:{goal.id}:paused:{stamp}")

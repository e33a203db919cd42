"""The task state machine: the only code that changes a task's status.

Every change is a guarded ``UPDATE … WHERE status = :from`` (so two workers
racing for the same card cannot both win) and writes a ``TaskEvent``, at once
or, when the caller passes ``history``, together with the caller's other events
in one ``INSERT`` (a finished card writes four or more).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ClauseElement, Update, bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from web4os.db import table_of, utcnow
from web4os.errors import Conflict
from web4os.goals.announce import card_moved, goal_moved
from web4os.goals.history import event_row, write_events
from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus

TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PLANNED: frozenset({TaskStatus.QUEUED, TaskStatus.BLOCKED, TaskStatus.CANCELLED}),
    TaskStatus.QUEUED: frozenset({
        TaskStatus.RUNNING, TaskStatus.PLANNED, TaskStatus.BLOCKED, TaskStatus.CANCELLED,
    }),
    # → BLOCKED from running / needs review: a retry or send-back that the account
    # (or a credit cap) can't pay for waits blocked instead of starting.
    TaskStatus.RUNNING: frozenset({
        TaskStatus.NEEDS_REVIEW, TaskStatus.QUEUED, TaskStatus.FAILED, TaskStatus.CANCELLED,
        TaskStatus.BLOCKED,
    }),
    TaskStatus.NEEDS_REVIEW: frozenset({
        TaskStatus.DONE, TaskStatus.QUEUED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.BLOCKED,
    }),
    TaskStatus.FAILED: frozenset({TaskStatus.QUEUED, TaskStatus.PLANNED, TaskStatus.CANCELLED}),
    TaskStatus.BLOCKED: frozenset({TaskStatus.PLANNED, TaskStatus.QUEUED, TaskStatus.CANCELLED}),
    TaskStatus.DONE: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}

TERMINAL = frozenset({TaskStatus.DONE, TaskStatus.CANCELLED})
WAITING_ON_OPERATOR = frozenset({TaskStatus.NEEDS_REVIEW, TaskStatus.FAILED, TaskStatus.BLOCKED})


class IllegalTransition(Conflict):
    """The requested change is not an edge of the state machine."""


class StaleTransition(Conflict):
    """Someone else changed the task first (it is no longer in the expected state)."""


def can_transition(src: TaskStatus, dst: TaskStatus) -> bool:
    """Whether ``src → dst`` is an edge of the machine."""
    return dst in TRANSITIONS[src]


# Core statements on the table, not ``update(Task)``: the ORM's bulk-update path costs
# more than the UPDATE itself, and the loaded card is mirrored by hand anyway.
_TASKS = table_of(Task)


@functools.lru_cache(maxsize=512)
def _task_update(columns: tuple[str, ...], with_token: bool) -> Update:
    """The guarded UPDATE for one set of columns, built once (a card's life runs the same
    few shapes over and over; building a statement costs more than running it)."""
    c = _TASKS.c
    stmt = update(_TASKS).where(c.id == bindparam("_id"), c.status == bindparam("_from"))
    if with_token:
        stmt = stmt.where(c.claim_token == bindparam("_token"))
    return stmt.values({name: bindparam(f"v_{name}", type_=c[name].type) for name in columns})


@dataclass(frozen=True)
class FollowUp:
    """A second move, made in the same UPDATE as the first (each is its own event)."""

    to: TaskStatus
    actor: str
    reason: str = ""


def transition(
    session: Session,
    task: Task,
    to: TaskStatus,
    *,
    actor: str,
    reason: str = "",
    data: dict[str, Any] | None = None,
    expect: TaskStatus | None = None,
    values: dict[str, Any] | None = None,
    claim_token: str | None = None,
    history: list[dict[str, Any]] | None = None,
    then: FollowUp | None = None,
) -> None:
    """Move ``task`` to ``to``, atomically, and record why.

    ``expect`` is the status the caller believes the task has (defaults to the
    loaded one); if the row has moved on, ``StaleTransition`` is raised and
    nothing is written. ``values`` are extra columns set in the same UPDATE.
    ``claim_token`` additionally requires the running attempt to be the caller's.
    ``history``: append the event there for the caller to write (``write_events``)
    with its others, instead of writing it now. ``then``: go on from ``to`` to a
    further status in the same UPDATE (a result the CEO agent accepts at once:
    running → needs review → done), both moves checked and recorded.
    """
    src = expect or task.status
    changes = _changes(src, to, reason, None)
    if then is not None:
        changes.update(_changes(to, then.to, then.reason, None))
    changes.update(values or {})
    if any(isinstance(v, ClauseElement) for v in changes.values()):  # SQL, not values
        c = _TASKS.c
        stmt = update(_TASKS).where(c.id == task.id, c.status == src)
        if claim_token is not None:
            stmt = stmt.where(c.claim_token == claim_token)
        result = session.execute(stmt.values(**changes))
    else:
        params = {f"v_{name}": value for name, value in changes.items()}
        params.update(_id=task.id, _from=src, _token=claim_token)
        result = session.execute(_task_update(tuple(changes), claim_token is not None), params)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleTransition("This card changed while you were looking; reload and try again.")
    for name, value in changes.items():
        set_committed_value(task, name, value)  # mirror the UPDATE without a reload
    card_moved(session, task, task.status)
    rows = [event_row(account_id=task.account_id, goal_id=task.goal_id, task_id=task.id,
                      kind="status", from_status=src.value, to_status=to.value, actor=actor,
                      message=reason, data=data)]
    if then is not None:
        rows.append(event_row(account_id=task.account_id, goal_id=task.goal_id,
                              task_id=task.id, kind="status", from_status=to.value,
                              to_status=then.to.value, actor=then.actor, message=then.reason))
    if history is None:
        write_events(session, rows)
    else:
        history.extend(rows)


def transition_many(session: Session, tasks: Sequence[Task], to: TaskStatus, *,
                    expect: TaskStatus, actor: str, reason: str,
                    values: dict[str, Any] | None = None,
                    history: list[dict[str, Any]] | None = None) -> list[Task]:
    """``transition`` for several cards that should all be ``expect``: one guarded
    ``UPDATE … RETURNING id``, one history ``INSERT`` (or, with ``history``, their events
    added there, as ``transition`` does). Returns the cards moved; one that has moved on
    meanwhile is left out (on Postgres the UPDATE waits for its row lock, then sees the
    new status), not an error."""
    changes = _changes(expect, to, reason, values)
    params = {f"v_{name}": value for name, value in changes.items()}
    won = set(session.scalars(_many_update(tuple(changes)),
                              {"_ids": [t.id for t in tasks], "_from": expect, **params}))
    moved = [t for t in tasks if t.id in won]
    for task in moved:
        for name, value in changes.items():
            set_committed_value(task, name, value)
        card_moved(session, task, to)
    rows = [event_row(account_id=t.account_id, goal_id=t.goal_id, task_id=t.id, kind="status",
                      from_status=expect.value, to_status=to.value, actor=actor, message=reason)
            for t in moved]
    if history is None:
        write_events(session, rows)
    else:
        history.extend(rows)
    return moved


def _changes(src: TaskStatus, to: TaskStatus, reason: str,
             values: dict[str, Any] | None) -> dict[str, Any]:
    """The columns a move sets (after checking it is an edge of the machine)."""
    if not can_transition(src, to):
        raise IllegalTransition(
            f"A task that is {src.value.replace('_', ' ')} cannot become "
            f"{to.value.replace('_', ' ')}."
        )
    now = utcnow()
    changes: dict[str, Any] = {"status": to, "updated_at": now, "status_reason": reason}
    if to == TaskStatus.QUEUED:
        changes["queued_at"] = now
    if to in TERMINAL or to in (TaskStatus.NEEDS_REVIEW, TaskStatus.FAILED):
        changes.setdefault("finished_at", now)
    changes.update(values or {})
    return changes


@functools.lru_cache(maxsize=64)
def _many_update(columns: tuple[str, ...]) -> Update:
    c = _TASKS.c
    return (update(_TASKS).where(c.id.in_(bindparam("_ids", expanding=True)),
                                 c.status == bindparam("_from"))
            .values({name: bindparam(f"v_{name}", type_=c[name].type) for name in columns})
            .returning(c.id))


# --- goals --------------------------------------------------------------------


GOAL_TRANSITIONS: dict[GoalStatus, frozenset[GoalStatus]] = {
    GoalStatus.PLANNING: frozenset({
        GoalStatus.RUNNING, GoalStatus.PAUSED, GoalStatus.FAILED, GoalStatus.CANCELLED,
    }),
    GoalStatus.RUNNING: frozenset({
        GoalStatus.COMPLETING, GoalStatus.PAUSED, GoalStatus.FAILED, GoalStatus.CANCELLED,
    }),
    GoalStatus.PAUSED: frozenset({GoalStatus.PLANNING, GoalStatus.RUNNING, GoalStatus.CANCELLED}),
    GoalStatus.COMPLETING: frozenset({GoalStatus.COMPLETED, GoalStatus.RUNNING, GoalStatus.CANCELLED}),
    GoalStatus.COMPLETED: frozenset(),
    GoalStatus.FAILED: frozenset({GoalStatus.PLANNING, GoalStatus.RUNNING, GoalStatus.CANCELLED}),
    GoalStatus.CANCELLED: frozenset(),
}


def transition_goal(
    session: Session, goal: Goal, to: GoalStatus, *, actor: str, reason: str = "",
    expect: GoalStatus | None = None, values: dict[str, Any] | None = None,
) -> None:
    """Move a goal to ``to`` with a guarded update and a history event."""
    src = expect or goal.status
    if to not in GOAL_TRANSITIONS[src]:
        raise IllegalTransition(f"A goal that is {src.value} cannot become {to.value}.")
    changes: dict[str, Any] = {"status": to, "status_reason": reason, "updated_at": utcnow()}
    if to == GoalStatus.COMPLETED:
        changes["completed_at"] = utcnow()
    changes.update(values or {})
    result = session.execute(
        update(Goal).where(Goal.id == goal.id, Goal.status == src).values(**changes)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleTransition("This goal changed meanwhile; reload and try again.")
    for name, value in changes.items():
        set_committed_value(goal, name, value)
    goal_moved(session, goal, to)
    write_events(session, [event_row(account_id=goal.account_id, goal_id=goal.id, task_id=None,
                                     kind="goal_status", from_status=src.value,
                                     to_status=to.value, actor=actor, message=reason)])

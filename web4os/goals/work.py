"""Scheduling steps shared by the workers and the operator's card actions.

``queue_task`` is the single way a task becomes runnable: it reserves the next
attempt's credits first, and blocks the card with a plain reason if the
account cannot pay.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from web4os.agents.structured import CallRecord
from web4os.credits import caps
from web4os.credits import service as credits
from web4os.credits.caps import CapBreach
from web4os.credits.service import Hold, Refs
from web4os.errors import InsufficientCredits
from web4os.goals.history import event_row, write_events
from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus
from web4os.goals.statemachine import transition, transition_goal, transition_many
from web4os.tenancy import account_id_of
from web4os.workers.queue import enqueue

OUT_OF_CREDITS = ("Out of credits — top up or ask your admin. "
                  "This card resumes by itself once credits arrive.")


def attempt_key(task_id: int, attempt: int) -> str:
    """The idempotency key of one attempt's reservation and settlement."""
    return f"task:{task_id}:a{attempt}"


def refs_of(task: Task) -> Refs:
    return Refs(goal_id=task.goal_id, task_id=task.id, agent_id=task.agent_id)


def queue_task(
    session: Session,
    task: Task,
    *,
    actor: str,
    reason: str,
    expect: TaskStatus | None = None,
    values: dict[str, Any] | None = None,
    countdown: float = 0.0,
    claim_token: str | None = None,
) -> bool:
    """Reserve credits for the next attempt and queue the task (True), or block it (False).

    Blocked when the account can't pay (the card says so); blocked with the goal
    paused when a goal or agent credit cap would be crossed (see ``credits.caps``).
    """
    attempt = task.attempts + 1
    reserved, breach = caps.reserve_within_caps(
        session, task, attempt_key(task.id, attempt),
        reason=f"Hold for “{task.title}” (attempt {attempt})",
    )
    values = {**(values or {}), "claim_token": None, "lease_expires_at": None}
    if (expect or task.status) == TaskStatus.BLOCKED and not reserved:
        # An operator's retry of a card that is still blocked: say why, change nothing.
        if breach is not None:
            raise caps.CreditCapReached(breach.message)
        raise InsufficientCredits(OUT_OF_CREDITS.split(" This card")[0])
    if breach is not None:
        transition(session, task, TaskStatus.BLOCKED, actor=actor, reason=breach.message,
                   expect=expect, values=values, claim_token=claim_token)
        pause_for_cap(session, task.goal, breach)
        return False
    if not reserved:
        transition(session, task, TaskStatus.BLOCKED, actor=actor, reason=OUT_OF_CREDITS,
                   expect=expect, values=values, claim_token=claim_token)
        return False
    transition(session, task, TaskStatus.QUEUED, actor=actor, reason=reason, expect=expect,
               values=values, claim_token=claim_token)
    enqueue(session, "run_task", countdown=countdown, task_id=task.id, account_id=task.account_id)
    return True


def queue_many(session: Session, tasks: Sequence[Task], *, actor: str, reason: str,
               history: list[dict[str, Any]] | None = None) -> bool:
    """Queue planned cards together: one hold for all, one UPDATE, one history INSERT.

    For the common case of a finished card unblocking several others. Returns False,
    having changed nothing, when a credit cap could apply or the account cannot
    pay them all; the caller then queues them one by one with ``queue_task``,
    which blocks each card that cannot start and says why. The caller has
    checked the goal's own cap.

    The credits are taken first (one guarded update of the balance, which locks the
    account row: the order every credit movement follows, so two transactions never
    wait on each other's rows), then the cards are claimed (``UPDATE … WHERE status =
    'planned'``; on Postgres a racing worker queuing the same cards waits for their row
    locks, then finds them taken), and only the claimed cards' holds are written;
    what was taken for the others goes back.
    ``history``: add the cards' events there for the caller to write with its own.
    """
    if not tasks:
        return True
    if any(t.agent.credit_cap is not None for t in tasks):
        return False
    holds = {t.id: Hold(attempt_key(t.id, t.attempts + 1), t.estimated_credits, refs_of(t),
                        f"Hold for “{t.title}” (attempt {t.attempts + 1})") for t in tasks}
    taken = credits.take_many(session, account_id_of(tasks[0]), list(holds.values()))
    if taken is None:
        return False
    queued = transition_many(session, tasks, TaskStatus.QUEUED, expect=TaskStatus.PLANNED,
                             actor=actor, reason=reason,
                             values={"claim_token": None, "lease_expires_at": None},
                             history=history)
    credits.keep_holds(session, taken, {holds[t.id].key for t in queued})
    for task in queued:
        enqueue(session, "run_task", task_id=task.id, account_id=task.account_id)
    return True


def pause_for_cap(session: Session, goal: Goal, breach: CapBreach) -> None:
    """Pause a running goal with a card saying which cap, spent vs cap, and what to do."""
    if goal.status == GoalStatus.RUNNING:
        transition_goal(session, goal, GoalStatus.PAUSED, actor="system", reason=breach.message)


def record_calls(
    session: Session, *, account_id: int, goal_id: int, task_id: int | None,
    calls: Sequence[CallRecord],
) -> None:
    """One history event per model call: tokens, latency, credits, model."""
    write_events(session, model_call_events(account_id=account_id, goal_id=goal_id,
                                            task_id=task_id, calls=calls))


def model_call_events(*, account_id: int, goal_id: int, task_id: int | None,
                      calls: Sequence[CallRecord]) -> list[dict[str, Any]]:
    """The history rows of ``calls`` (for a caller that writes them with its others)."""
    rows = []
    for call in calls:
        r = call.reply
        rows.append(event_row(
            account_id=account_id, goal_id=goal_id, task_id=task_id, kind="model_call",
            actor=call.agent_slug,
            message=(f"{call.purpose} · {r.model} · {r.prompt_tokens}+{r.completion_tokens} "
                     f"tokens · {r.latency_ms} ms · {call.credits} credit(s)"
                     + (f" · failed: {r.extra['error']}" if "error" in r.extra else "")),
            data=call.as_event_data(),
        ))
    return rows


def add_goal_spend(session: Session, goal_id: int, credits_charged: int) -> None:
    """Increment a goal's spend in SQL (no lost updates between workers)."""
    if credits_charged:
        session.execute(
            update(Goal).where(Goal.id == goal_id)
            .values(credits_spent=Goal.credits_spent + credits_charged)
            .execution_options(synchronize_session=False)
        )

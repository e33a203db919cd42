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
from web4os.credits import service as credits
from web4os.credits.service import Refs
from web4os.goals.models import Goal, Task, TaskEvent, TaskStatus
from web4os.goals.statemachine import transition
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
    """Reserve credits for the next attempt and queue the task (True), or block it (False)."""
    attempt = task.attempts + 1
    reserved = credits.reserve(
        session, account_id_of(task), attempt_key(task.id, attempt), task.estimated_credits,
        refs=refs_of(task), reason=f"Hold for “{task.title}” (attempt {attempt})",
    )
    values = {**(values or {}), "claim_token": None, "lease_expires_at": None}
    if not reserved:
        transition(session, task, TaskStatus.BLOCKED, actor=actor, reason=OUT_OF_CREDITS,
                   expect=expect, values=values, claim_token=claim_token)
        return False
    transition(session, task, TaskStatus.QUEUED, actor=actor, reason=reason, expect=expect,
               values=values, claim_token=claim_token)
    enqueue(session, "run_task", countdown=countdown, task_id=task.id, account_id=task.account_id)
    return True


def record_calls(
    session: Session, *, account_id: int, goal_id: int, task_id: int | None,
    calls: Sequence[CallRecord],
) -> None:
    """One history event per model call: tokens, latency, credits, model."""
    for call in calls:
        r = call.reply
        session.add(TaskEvent(
            account_id=account_id, goal_id=goal_id, task_id=task_id, kind="model_call",
            actor=call.agent_slug,
            message=(f"{call.purpose} · {r.model} · {r.prompt_tokens}+{r.completion_tokens} "
                     f"tokens · {r.latency_ms} ms · {call.credits} credit(s)"),
            data=call.as_event_data(),
        ))


def add_goal_spend(session: Session, goal_id: int, credits_charged: int) -> None:
    """Increment a goal's spend in SQL (no lost updates between workers)."""
    if credits_charged:
        session.execute(
            update(Goal).where(Goal.id == goal_id)
            .values(credits_spent=Goal.credits_spent + credits_charged)
            .execution_options(synchronize_session=False)
        )

"""What runs next: the one place a card becomes runnable and a goal moves on.

``queue_task`` is the single way a card is queued: it reserves the attempt's credits
first (within the goal's and the agent's caps) and blocks the card with a plain reason
when they cannot be had. ``advance_goal`` and ``advance_after_done`` start the cards
whose inputs are settled, start the summary when every card is, and call for the
CEO agent's re-plan when failed work leaves nothing else to run.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from web4os.accounts.service import account_is_active
from web4os.config import get_settings
from web4os.credits import service as credits
from web4os.credits.service import Hold, Refs
from web4os.db import table_of
from web4os.errors import InsufficientCredits
from web4os.goals import budgets, caps
from web4os.goals import service as goals
from web4os.goals.caps import CapBreach
from web4os.goals.history import write_events
from web4os.goals.models import Goal, GoalStatus, Task, TaskDependency, TaskEvent, TaskStatus
from web4os.goals.ranks import rank_of
from web4os.goals.statemachine import (
    TERMINAL,
    StaleTransition,
    transition,
    transition_goal,
    transition_many,
)
from web4os.queue import RANK, enqueue
from web4os.tenancy import AccountId, account_id_of, in_account, scoped, tenant_session

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
    first: bool = False,
) -> bool:
    """Reserve credits for the next attempt and queue the task (True), or block it (False).

    Blocked when the account can't pay (the card says so); blocked with the goal
    paused when a goal or agent credit cap would be crossed (see ``goals.caps``).
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
    enqueue(session, "run_task", countdown=countdown, task_id=task.id, account_id=task.account_id,
            **{RANK: rank_of(task.goal_id, urgent=task.goal.urgent, first=first)})
    return True


def queue_many(session: Session, tasks: Sequence[Task], *, actor: str, reason: str,
               urgent: bool, first: bool = False,
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
    ``urgent``, ``first``: the goal's, for the cards' rank (``rank_of``).
    """
    if not tasks:
        return True
    if any(t.agent.credit_cap is not None or budgets.has_budget(session, t) for t in tasks):
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
        enqueue(session, "run_task", task_id=task.id, account_id=task.account_id,
                **{RANK: rank_of(task.goal_id, urgent=urgent, first=first)})
    return True


def pause_for_cap(session: Session, goal: Goal, breach: CapBreach) -> None:
    """Pause a running goal with a card saying which cap, spent vs cap, and what to do."""
    if goal.status == GoalStatus.RUNNING:
        transition_goal(session, goal, GoalStatus.PAUSED, actor="system", reason=breach.message)

READY = "Its inputs are ready."


def backoff(attempt: int) -> float:
    return float(min(60, 2 ** attempt))


def may_try_again(task: Task) -> bool:
    """Whether a card that failed, was sent back or lost its worker gets another try by
    itself (the one rule; runs that waited for the operator are not tries)."""
    return task.tries < get_settings().max_task_attempts


def queue_ready(s: Any, goal: Goal, ready: list[Task], *, first: bool = False) -> None:
    """Queue each ready card (its credits reserved first); stop if a credit cap pauses the goal.

    Together in one go when no cap is set and the account can pay them all (the
    common case); else one by one, so each card that cannot start says why.
    """
    if goal.credit_cap is None and queue_many(s, ready, actor="ceo", reason=READY,
                                              urgent=goal.urgent, first=first):
        return
    _queue_one_by_one(s, goal, ready, first=first)


def _queue_one_by_one(s: Any, goal: Goal, ready: list[Task], *, first: bool = False) -> None:
    for task in ready:
        try:
            with s.begin_nested():
                queue_task(s, task, actor="ceo", reason=READY, expect=TaskStatus.PLANNED,
                           first=first)
        except StaleTransition:
            continue
        if goal.status != GoalStatus.RUNNING:
            return


def _start_summary(s: Any, goal: Goal) -> None:
    """Every card is settled: the goal moves to completing and the summary job is sent."""
    try:
        transition_goal(s, goal, GoalStatus.COMPLETING, actor="ceo",
                        reason="All tasks are done; writing the summary.")
    except StaleTransition:
        return
    enqueue(s, "finish_goal", goal_id=goal.id, account_id=goal.account_id)


def advance_goal(goal_id: int, *, account_id: int) -> None:
    """Queue every task whose inputs are done; close the goal when all work is finished."""
    aid = AccountId(account_id)
    with tenant_session(account_id) as s:
        goal = goals.get_goal(s, aid, goal_id)
        if goal.status != GoalStatus.RUNNING or not account_is_active(s, account_id):
            return
        tasks = goals.goal_tasks(s, aid, goal_id)
        deps = goals.dependency_map(s, aid, goal_id)
        queue_ready(s, goal, ready_tasks(tasks, deps), first=not under_way(tasks))
        if goal.status != GoalStatus.RUNNING:  # a credit cap paused it
            return
        if goals.all_finished(tasks):
            _start_summary(s, goal)
        elif goals.all_cancelled(tasks):
            transition_goal(s, goal, GoalStatus.CANCELLED, actor="ceo",
                            reason="Every card was cancelled, so nothing is left to do.")
        else:
            after_advance(s, goal, tasks, deps)


def advance_after_done(s: Any, task: Task, goal: goals.GoalState,
                        history: list[dict[str, Any]]) -> None:
    """A card is done: start the cards it unblocked, or close the goal, in this same
    transaction (no ``advance_goal`` job and no reload of the whole goal per card).
    ``history`` (the card's own events) is written with the queued cards' events."""
    aid = account_id_of(task)
    ready = ready_dependents(s, aid, task.id)
    queued = bool(ready) and goal.account_active and goal.credit_cap is None and queue_many(
        s, ready, actor="ceo", reason=READY, urgent=goal.urgent, history=history)
    write_events(s, history)
    if ready:
        if not queued and goal.account_active:
            _queue_one_by_one(s, task.goal, ready)  # loads the goal: caps may pause it
        return
    counts = goals.status_counts(s, aid, task.goal_id)
    unfinished = {st for st, n in counts.items() if n and st not in TERMINAL}
    if not unfinished:
        _start_summary(s, task.goal)
    elif TaskStatus.FAILED in unfinished and not unfinished & IN_FLIGHT:
        enqueue(s, "advance_goal", goal_id=task.goal_id, account_id=task.account_id)  # re-plan?


def under_way(tasks: list[Task]) -> bool:
    """Some card of the goal has started (its next cards are not the goal's first)."""
    return any(t.attempts or t.status not in (TaskStatus.PLANNED, TaskStatus.QUEUED)
               for t in tasks)


def ready_tasks(tasks: list[Task], deps: dict[int, list[int]]) -> list[Task]:
    """Planned tasks whose every dependency is settled: they may start now.

    A cancelled dependency counts as settled: the operator chose to go on without it.
    """
    status = {t.id: t.status for t in tasks}
    return [
        t for t in tasks
        if t.status == TaskStatus.PLANNED
        and all(status.get(d) in TERMINAL for d in deps.get(t.id, []))
    ]


def ready_dependents(session: Session, account_id: AccountId, task_id: int) -> list[Task]:
    """Planned tasks waiting on ``task_id`` whose every input is now settled.

    The same rule as ``ready_tasks``, asked only about the cards one finished card
    can unblock, so finishing a card does not reload the whole goal. Their ids come
    first from a Core query; the cards are loaded only if there are any (most
    finished cards unblock none: a card waits for its last input).
    """
    return goals.tasks_by_ids(session, account_id, list(session.scalars(
        _ready_stmt(), {"tenant": account_id, "task_id": task_id})))


@functools.cache
def _ready_stmt() -> Select[int]:
    tasks, edges = table_of(Task), table_of(TaskDependency)
    edge, parent = edges.alias("edge"), tasks.alias("parent")
    t = tasks.c
    unsettled = (select(edge.c.id).join(parent, parent.c.id == edge.c.depends_on_id)
                 .where(edge.c.task_id == t.id, parent.c.status.not_in(TERMINAL)).exists())
    return (select(t.id).where(in_account(tasks))
            .join(edges, edges.c.task_id == t.id)
            .where(edges.c.depends_on_id == bindparam("task_id"),
                   t.status == TaskStatus.PLANNED, ~unsettled))

IN_FLIGHT = frozenset({TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.NEEDS_REVIEW, TaskStatus.BLOCKED})

REPLAN_EVENTS = ("replan_started", "replanned", "replan_failed")


def stuck(tasks: list[Task], deps: dict[int, list[int]]) -> bool:
    """A card failed for good and nothing else can move without a new plan or the operator."""
    if not any(t.status == TaskStatus.FAILED for t in tasks):
        return False
    if any(t.status in IN_FLIGHT for t in tasks):
        return False
    return not ready_tasks(tasks, deps)


def last_replan_event(s: Any, aid: AccountId, goal_id: int) -> str | None:
    kind: str | None = s.scalar(
        scoped(TaskEvent, aid).with_only_columns(TaskEvent.kind)
        .where(TaskEvent.goal_id == goal_id, TaskEvent.kind.in_(REPLAN_EVENTS))
        .order_by(TaskEvent.id.desc()).limit(1))
    return kind


def failed_titles(tasks: list[Task]) -> str:
    return ", ".join(f"“{t.title}”" for t in tasks if t.status == TaskStatus.FAILED)


def after_advance(s: Any, goal: Goal, tasks: list[Task], deps: dict[int, list[int]]) -> None:
    """Called by ``advance_goal``: start the re-plan, resume an interrupted one, or hand over."""
    if goal.status != GoalStatus.RUNNING or not stuck(tasks, deps):
        return
    aid = AccountId(goal.account_id)
    if (goal.replans < goal.replans_allowed
            or last_replan_event(s, aid, goal.id) == "replan_started"):
        enqueue(s, "replan_goal", goal_id=goal.id, account_id=goal.account_id)
        return
    times = "once" if goal.replans == 1 else f"{goal.replans} times"
    transition_goal(
        s, goal, GoalStatus.FAILED, actor="ceo",
        reason=(f"Waiting for you: {failed_titles(tasks)} failed again after the CEO agent "
                f"re-planned {times}. Retry, edit, reassign or cancel the failed card(s) to go on, "
                "or plan again."))

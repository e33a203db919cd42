"""Work a crash, a lost message or a top-up left behind: requeue cards whose worker
died, give back holds nobody will settle, resume blocked work, and re-send what the
broker lost."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update

from web4os.accounts.service import account_is_active
from web4os.config import get_settings
from web4os.credits import service as credits
from web4os.db import utcnow
from web4os.goals import budgets, caps
from web4os.goals import service as goals
from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus
from web4os.goals.scheduling import attempt_key, may_try_again, queue_task, refs_of
from web4os.goals.statemachine import (
    transition,
    transition_goal,
)
from web4os.queue import enqueue, get_queue
from web4os.tenancy import AccountId, of_account, system_session, tenant_session
from web4os.tools.calls import waits_on_a_tool_call


def recover_task(task_id: int, *, account_id: int) -> None:
    """Requeue a running task whose worker stopped renewing its lease (crash, kill); give
    back the hold of a card cancelled while it ran whose worker never finished."""
    aid = AccountId(account_id)
    with tenant_session(account_id) as s:
        credits.lock_account(s, aid)  # a finish in flight commits first; then the card is read
        task = goals.get_task(s, aid, task_id)
        if task.status == TaskStatus.CANCELLED:
            _release_abandoned(s, aid, task)
            return
        expired = task.lease_expires_at is not None and task.lease_expires_at < utcnow()
        if task.status != TaskStatus.RUNNING or not expired:
            return
        credits.release(s, aid, attempt_key(task.id, task.attempts), refs=refs_of(task),
                        reason="Released: the worker stopped before finishing")
        if may_try_again(task):
            queue_task(s, task, actor="system", reason="The worker stopped responding; retrying.",
                       claim_token=task.claim_token)
        else:
            transition(s, task, TaskStatus.FAILED, actor="system", claim_token=task.claim_token,
                       reason="The worker stopped responding on every attempt. Retry when ready.",
                       values={"claim_token": None, "lease_expires_at": None})
        enqueue(s, "advance_goal", goal_id=task.goal_id, account_id=account_id)


def _abandoned_after() -> timedelta:
    """How long after its last lease a card cancelled while running may still be finished
    by its worker (which stops at the run's time limit whatever the pool)."""
    return timedelta(seconds=get_settings().task_soft_time_limit)


def _release_abandoned(s: Any, aid: AccountId, task: Task) -> None:
    """A card cancelled while it ran keeps its hold until its worker finishes (and pays for
    what it used); if the worker never does (it crashed), give the hold back."""
    lease = task.lease_expires_at
    if lease is None or lease + _abandoned_after() >= utcnow():
        return
    key = attempt_key(task.id, task.attempts)
    if not credits.is_settled(s, key):  # the worker did not settle it: give it all back
        credits.release(s, aid, key, refs=refs_of(task),
                        reason="Released: the card was cancelled while it ran and its worker "
                               "never finished")
        credits.schedule_resume(s, aid)  # a goal its credit cap paused may go on now
    s.execute(update(Task).where(Task.id == task.id).values(lease_expires_at=None)
              .execution_options(synchronize_session=False))


def resume_account(*, account_id: int) -> None:
    """After a top-up or reactivation: unblock cards and paused goals, then carry on."""
    aid = AccountId(account_id)
    with tenant_session(account_id) as s:
        if not account_is_active(s, account_id):
            return
        for goal in s.scalars(select(Goal).where(of_account(Goal, aid),
                                                 Goal.status == GoalStatus.PAUSED)).all():
            if caps.still_capped(s, goal) is not None:
                continue  # paused by a credit cap the owner has not raised
            has_plan = bool(goals.goal_tasks(s, aid, goal.id))
            to = GoalStatus.RUNNING if has_plan else GoalStatus.PLANNING
            transition_goal(s, goal, to, actor="system",
                            reason="Resumed: credits are available and no credit cap stops it.")
            enqueue(s, "advance_goal" if has_plan else "plan_goal", goal_id=goal.id,
                    account_id=account_id)
        blocked = s.scalars(select(Task).join(Goal, Goal.id == Task.goal_id).where(
            of_account(Task, aid), Task.status == TaskStatus.BLOCKED,
            Goal.status != GoalStatus.PAUSED,
            ~waits_on_a_tool_call(Task.id))).unique().all()  # that waits for the operator
        for task in blocked:
            transition(s, task, TaskStatus.PLANNED, actor="system",
                       reason="Credits are available again.")
            enqueue(s, "advance_goal", goal_id=task.goal_id, account_id=account_id)
        for task_id in s.scalars(select(Task.id).where(of_account(Task, aid),
                                                       Task.status == TaskStatus.QUEUED)):
            enqueue(s, "run_task", task_id=task_id, account_id=account_id)


def recover_after_restart() -> None:
    """Embedded mode only: one process owns all work, so at start-up every running
    task was orphaned by the previous process and every queued one lost its job."""
    now = utcnow()
    queue = get_queue()
    with system_session() as s:
        s.execute(update(Task).where(Task.status == TaskStatus.RUNNING)
                  .values(lease_expires_at=now - timedelta(seconds=1))
                  .execution_options(synchronize_session=False))
        queued = s.execute(select(Task.id, Task.account_id)
                           .where(Task.status == TaskStatus.QUEUED)).all()
    for task_id, account_id in queued:
        queue.submit("run_task", {"task_id": task_id, "account_id": account_id})


def _queue_backlog(queue: Any) -> int:
    """Messages waiting to be picked up (0 if the queue cannot tell)."""
    backlog = getattr(queue, "backlog", None)
    return int(backlog() or 0) if callable(backlog) else 0


def sweep() -> None:
    """Find work that a crash or a lost broker message left behind, and send it again;
    hand webhook deliveries whose retry is due to this process's senders."""
    settings = get_settings()
    now = utcnow()
    stale = now - timedelta(seconds=settings.task_lease_seconds)
    queue = get_queue()
    with system_session() as s:
        expired = s.execute(select(Task.id, Task.account_id).where(or_(
            (Task.status == TaskStatus.RUNNING) & (Task.lease_expires_at < now),
            (Task.status == TaskStatus.CANCELLED)
            & (Task.lease_expires_at < now - _abandoned_after()))).limit(1000)).all()
        # While messages still wait in the queue, an old queued task may simply be behind
        # them (a backlog); re-sending it then would only pile up duplicates.
        lost = [] if _queue_backlog(queue) else s.execute(select(Task.id, Task.account_id).where(
            Task.status == TaskStatus.QUEUED, Task.queued_at < stale).limit(1000)).all()
        idle_goals = s.execute(select(Goal.id, Goal.account_id, Goal.status).where(
            Goal.status.in_([GoalStatus.PLANNING, GoalStatus.RUNNING, GoalStatus.COMPLETING]),
            Goal.updated_at < stale).limit(1000)).all()
        new_month = budgets.months_turned(s, now)  # what a monthly budget paused resumes
        if idle_goals:  # look at each idle goal again only once per lease period
            s.execute(update(Goal).where(Goal.id.in_([g[0] for g in idle_goals]))
                      .values(updated_at=now).execution_options(synchronize_session=False))
    for account_id in new_month:
        queue.submit("resume_account", {"account_id": account_id})
    for task_id, account_id in expired:
        queue.submit("recover_task", {"task_id": task_id, "account_id": account_id})
    for task_id, account_id in lost:
        queue.submit("run_task", {"task_id": task_id, "account_id": account_id})
    names = {GoalStatus.PLANNING: "plan_goal", GoalStatus.RUNNING: "advance_goal",
             GoalStatus.COMPLETING: "finish_goal"}
    for goal_id, account_id, status in idle_goals:
        queue.submit(names[status], {"goal_id": goal_id, "account_id": account_id})

"""What an operator can do to a card (and a goal). Each action is one state change,
recorded in the card's timeline with who clicked it."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.orm import Session

from web4os.agents import service as agents
from web4os.credits import service as credits
from web4os.errors import Conflict, InvalidInput
from web4os.goals import service as goals
from web4os.goals.models import Goal, GoalStatus, Task, TaskStatus
from web4os.goals.ranks import rank_of
from web4os.goals.scheduling import attempt_key, queue_task, refs_of
from web4os.goals.statemachine import TERMINAL, transition, transition_goal, transition_many
from web4os.queue import RANK, enqueue
from web4os.tenancy import TenantContext, account_id_of

MAX_FEEDBACK = 4000


def lock_for_action(session: Session, ctx: TenantContext) -> None:
    """Every card or goal action first takes the account row, then reads what it changes afresh.

    Workers lock the account, then the goal, then cards (``credits.lock_account``); an
    action that took a card or the goal first could wait on a worker that waits on it.
    Rows loaded earlier in the request are re-read after the lock (unless the request
    has unsaved changes, which never happens before an action).
    """
    credits.lock_account(session, ctx.account_id)
    if not (session.dirty or session.new or session.deleted):
        session.expire_all()


def _advance(session: Session, task: Task) -> None:
    enqueue(session, "advance_goal", goal_id=task.goal_id, account_id=task.account_id)


def _editable(task: Task, verb: str) -> None:
    if task.status in TERMINAL or task.status == TaskStatus.RUNNING:
        raise Conflict(f"You can't {verb} a card that is {task.status.value.replace('_', ' ')}.")


def approve(session: Session, ctx: TenantContext, task_id: int) -> Task:
    """Accept a result that waits for review."""
    lock_for_action(session, ctx)
    task = goals.get_task(session, ctx.account_id, task_id)
    if task.status != TaskStatus.NEEDS_REVIEW:
        raise Conflict("Only a card that needs review can be approved.")
    transition(session, task, TaskStatus.DONE, actor=ctx.actor, reason="Approved.")
    _advance(session, task)
    return task


MAX_BULK = 200
"""The most cards one "approve selected" takes (the inbox shows at most this many)."""


def approve_many(session: Session, ctx: TenantContext, task_ids: Collection[int]) -> list[Task]:
    """Accept several results at once: one guarded UPDATE moves every ticked card that
    still waits for review (each move checked and recorded by the state machine); a card
    that changed meanwhile, or is not this account's, is left out, not an error."""
    if not task_ids:
        raise InvalidInput("Tick the cards to approve first.", field="task_ids")
    if len(task_ids) > MAX_BULK:
        raise InvalidInput(f"Approve at most {MAX_BULK} cards at once.", field="task_ids")
    lock_for_action(session, ctx)
    waiting = [t for t in goals.tasks_by_ids(session, ctx.account_id, sorted(set(task_ids)))
               if t.status == TaskStatus.NEEDS_REVIEW]
    moved = transition_many(session, waiting, TaskStatus.DONE, expect=TaskStatus.NEEDS_REVIEW,
                            actor=ctx.actor, reason="Approved.") if waiting else []
    for goal_id in sorted({t.goal_id for t in moved}):
        enqueue(session, "advance_goal", goal_id=goal_id, account_id=ctx.account_id)
    return moved


def reject(session: Session, ctx: TenantContext, task_id: int, feedback: str) -> Task:
    """Send a result back; the agent redoes it with the feedback in its prompt."""
    feedback = feedback.strip()
    if not feedback:
        raise InvalidInput("Tell the agent what to change.", field="feedback")
    if len(feedback) > MAX_FEEDBACK:
        raise InvalidInput(f"Keep feedback under {MAX_FEEDBACK} characters.", field="feedback")
    lock_for_action(session, ctx)
    task = goals.get_task(session, ctx.account_id, task_id)
    if task.status != TaskStatus.NEEDS_REVIEW:
        raise Conflict("Only a card that needs review can be sent back.")
    queue_task(session, task, actor=ctx.actor, reason=f"Sent back: {feedback}",
               values={"feedback": feedback})
    return task


def retry(session: Session, ctx: TenantContext, task_id: int) -> Task:
    """Run a failed or blocked card again."""
    lock_for_action(session, ctx)
    task = goals.get_task(session, ctx.account_id, task_id)
    if task.status not in (TaskStatus.FAILED, TaskStatus.BLOCKED):
        raise Conflict("Only a failed or blocked card can be retried.")
    _ensure_goal_running(session, ctx, task)
    queue_task(session, task, actor=ctx.actor, reason="Retried by the operator.")
    _resume_if_paused(session, ctx, task)
    return task


def _ensure_goal_running(session: Session, ctx: TenantContext, task: Task) -> None:
    goal = goals.get_goal(session, ctx.account_id, task.goal_id)
    if goal.status == GoalStatus.FAILED:
        transition_goal(session, goal, GoalStatus.RUNNING, actor=ctx.actor,
                        reason="Work resumed by the operator.")
    elif goal.status in (GoalStatus.CANCELLED, GoalStatus.COMPLETED):
        raise Conflict(f"This goal is {goal.status.value}; start a new goal instead.")


def _resume_if_paused(session: Session, ctx: TenantContext, task: Task) -> None:
    """The card a credit cap stopped may be the one just cancelled, or rerun where no cap
    stops it (another specialist): its paused goal resumes by itself if nothing else
    still stops it (``resume_account`` checks the caps)."""
    goal = goals.get_goal(session, ctx.account_id, task.goal_id)
    if goal.status == GoalStatus.PAUSED:
        credits.schedule_resume(session, ctx.account_id)


def _rerun_if_waiting(session: Session, ctx: TenantContext, task: Task, reason: str) -> None:
    if task.status in (TaskStatus.NEEDS_REVIEW, TaskStatus.FAILED, TaskStatus.BLOCKED):
        _ensure_goal_running(session, ctx, task)
        queue_task(session, task, actor=ctx.actor, reason=reason)
        _resume_if_paused(session, ctx, task)


def reassign(session: Session, ctx: TenantContext, task_id: int, agent_id: int) -> Task:
    """Give the card to another specialist (and rerun it if it already ran)."""
    lock_for_action(session, ctx)
    task = goals.get_task(session, ctx.account_id, task_id)
    _editable(task, "reassign")
    agent = agents.get_agent(session, ctx.account_id, agent_id)
    if agent.is_ceo or not agent.enabled:
        raise InvalidInput("Pick an enabled specialist.", field="agent_id")
    if agent.id == task.agent_id:
        raise InvalidInput(f"This card is already with {agent.name}.", field="agent_id")
    old = task.agent.name
    task.agent_id = agent.id
    session.flush()
    session.refresh(task, ["agent"])
    goals.log_goal_event(session, task.goal, kind="action", actor=ctx.actor, task_id=task.id,
                         message=f"Reassigned from {old} to {agent.name}.")
    _rerun_if_waiting(session, ctx, task, f"Rerun by {agent.name} after reassignment.")
    return task


def edit(session: Session, ctx: TenantContext, task_id: int, *, title: str,
         instructions: str) -> Task:
    """Change what the card asks for, and rerun it if it already ran."""
    title, instructions = " ".join(title.split()), instructions.strip()
    if not title or len(title) > 200:
        raise InvalidInput("Give the card a title under 200 characters.", field="title")
    if len(instructions) > 4000:
        raise InvalidInput("Keep instructions under 4,000 characters.", field="instructions")
    lock_for_action(session, ctx)
    task = goals.get_task(session, ctx.account_id, task_id)
    _editable(task, "edit")
    task.title, task.instructions = title, instructions
    session.flush()
    goals.log_goal_event(session, task.goal, kind="action", actor=ctx.actor, task_id=task.id,
                         message="Instructions edited.")
    _rerun_if_waiting(session, ctx, task, "Rerun with edited instructions.")
    return task


def cancel(session: Session, ctx: TenantContext, task_id: int) -> Task:
    """Stop a card; work that depends on it goes ahead without it."""
    lock_for_action(session, ctx)
    task = goals.get_task(session, ctx.account_id, task_id)
    _cancel_task(session, ctx, task)
    goal = goals.get_goal(session, ctx.account_id, task.goal_id)
    if goal.status == GoalStatus.FAILED and goals.goal_tasks(session, ctx.account_id, goal.id):
        transition_goal(session, goal, GoalStatus.RUNNING, actor=ctx.actor,
                        reason="Work resumed without the cancelled card.")
    _resume_if_paused(session, ctx, task)
    _advance(session, task)
    return task


def _cancel_task(session: Session, ctx: TenantContext, task: Task) -> None:
    if task.status in TERMINAL:
        raise Conflict(f"This card is already {task.status.value}.")
    if task.status == TaskStatus.QUEUED:
        credits.release(session, account_id_of(task), attempt_key(task.id, task.attempts + 1),
                        refs=refs_of(task), reason="Released: card cancelled")
    # A running card keeps its lease: its worker may still finish and settle what it
    # used; if it never does, the sweeper gives the hold back once the lease and the
    # run's time limit are past (``recovery.recover_task``).
    transition(session, task, TaskStatus.CANCELLED, actor=ctx.actor, reason="Cancelled by the operator.",
               values={"claim_token": None})


def cancel_goal(session: Session, ctx: TenantContext, goal_id: int) -> Goal:
    """Stop a whole goal and every card still open."""
    lock_for_action(session, ctx)
    goal = goals.get_goal(session, ctx.account_id, goal_id)
    if goal.status in (GoalStatus.COMPLETED, GoalStatus.CANCELLED):
        raise Conflict(f"This goal is already {goal.status.value}.")
    for task in goals.goal_tasks(session, ctx.account_id, goal_id):
        if task.status not in TERMINAL:
            _cancel_task(session, ctx, task)
    transition_goal(session, goal, GoalStatus.CANCELLED, actor=ctx.actor,
                    reason="Cancelled by the operator.")
    return goal


def set_urgent(session: Session, ctx: TenantContext, goal_id: int, urgent: bool) -> Goal:
    """Mark a goal urgent (its cards go ahead of the account's others) or not. Its cards
    already waiting are sent again at their new rank: the first delivery runs each one,
    a later one finds it moved on."""
    goal = goals.get_goal(session, ctx.account_id, goal_id)
    if goal.urgent == urgent:
        return goal
    goal.urgent = urgent
    goals.log_goal_event(session, goal, kind="goal", actor=ctx.actor,
                         message="Marked urgent: its cards go first." if urgent
                         else "No longer urgent.")
    rank = rank_of(goal.id, urgent=urgent, first=False)
    for task in goals.goal_tasks(session, ctx.account_id, goal_id):
        if task.status == TaskStatus.QUEUED:
            enqueue(session, "run_task", task_id=task.id, account_id=task.account_id,
                    **{RANK: rank})
    session.flush()
    return goal

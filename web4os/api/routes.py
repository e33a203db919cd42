"""JSON API v1: the same services as the pages, with bearer-token auth."""

from __future__ import annotations

from sqlalchemy.orm import Session

from web4os.accounts.models import Account
from web4os.api.deps import ApiOperator, ApiReader
from web4os.api.openapi import api_router
from web4os.api.schemas import (
    ApprovedOut,
    ApproveSelectedIn,
    EditIn,
    EventOut,
    FeedbackIn,
    GoalEditIn,
    MeOut,
    ReassignIn,
    SimplePlanIn,
)
from web4os.config import get_settings
from web4os.goals import actions, service, ways_on
from web4os.goals.models import Goal, Task
from web4os.goals.schemas import GoalCreate, GoalOut, TaskOut, UrgentIn
from web4os.tenancy import AccountId
from web4os.web.deps import SessionDep

router = api_router("goals")
tasks_router = api_router("tasks")
me_router = api_router("account")


def _goal_out(session: Session, account_id: AccountId, goal: Goal,
              waiting: ways_on.WaitingGoal | None = None) -> GoalOut:
    p = service.progress_for(session, account_id, [goal.id])[goal.id]
    w = waiting or ways_on.waiting_goal(session, account_id, goal)
    return GoalOut(id=goal.id, title=goal.title, brief=goal.brief, status=goal.status.value,
                   status_reason=goal.status_reason, summary=goal.summary,
                   credits_spent=goal.credits_spent, urgent=goal.urgent,
                   tasks_total=p.total, tasks_done=p.done,
                   created_at=goal.created_at, completed_at=goal.completed_at,
                   needs_you=w is not None, ways_on=list(ways_on.WAYS_ON) if w else [],
                   failed_attempts=w.failed_attempts if w else 0,
                   failed_attempt_credits=w.failed_credits if w else 0)


def _task_out(task: Task, deps: list[int]) -> TaskOut:
    return TaskOut(id=task.id, goal_id=task.goal_id, key=task.key, title=task.title,
                   status=task.status.value, agent=task.agent.slug,
                   instructions=task.instructions, output=task.output, note=task.note,
                   feedback=task.feedback, depends_on=deps,
                   estimated_credits=task.estimated_credits, actual_credits=task.actual_credits,
                   attempts=task.attempts, tries=task.tries,
                   requires_approval=task.requires_approval, updated_at=task.updated_at)


# Each endpoint is one thin step (check the role, call the service, convert); they
# look alike by that shape, each over its own service, so none is folded into another.
@me_router.get("/me")
def get_me(session: SessionDep, ctx: ApiReader) -> MeOut:
    account = session.get(Account, ctx.account_id)
    assert account is not None
    return MeOut(account_id=account.id, account_name=account.name, role=ctx.role,
                 credit_balance=account.credit_balance, time_zone=account.time_zone,
                 offline_model=get_settings().offline_model)


@router.get("/goals")
def list_goals(session: SessionDep, ctx: ApiReader) -> list[GoalOut]:
    waiting = {w.goal.id: w for w in ways_on.waiting_goals(session, ctx.account_id)}
    return [_goal_out(session, ctx.account_id, g, waiting.get(g.id))
            for g in service.list_goals(session, ctx.account_id)]


@router.post("/goals", status_code=201)
def create_goal(body: GoalCreate, session: SessionDep, ctx: ApiOperator) -> GoalOut:
    goal = service.create_goal(session, ctx, body)
    return _goal_out(session, ctx.account_id, goal)


@router.get("/goals/{goal_id}")
def get_goal(goal_id: int, session: SessionDep, ctx: ApiReader) -> GoalOut:
    return _goal_out(session, ctx.account_id, service.get_goal(session, ctx.account_id, goal_id))


@router.get("/goals/{goal_id}/tasks")
def list_goal_tasks(goal_id: int, session: SessionDep, ctx: ApiReader) -> list[TaskOut]:
    service.get_goal(session, ctx.account_id, goal_id)
    deps = service.dependency_map(session, ctx.account_id, goal_id)
    return [_task_out(t, deps.get(t.id, []))
            for t in service.goal_tasks(session, ctx.account_id, goal_id)]


@router.post("/goals/{goal_id}/cancel")
def cancel_goal(goal_id: int, session: SessionDep, ctx: ApiOperator) -> GoalOut:
    return _goal_out(session, ctx.account_id, actions.cancel_goal(session, ctx, goal_id))


@router.post("/goals/{goal_id}/plan-again")
def plan_goal_again(goal_id: int, session: SessionDep, ctx: ApiOperator) -> GoalOut:
    """A goal that waits for you: the CEO agent plans it again (a repeat changes nothing)."""
    return _goal_out(session, ctx.account_id, ways_on.plan_again(session, ctx, goal_id))


@router.post("/goals/{goal_id}/urgent")
def set_goal_urgent(goal_id: int, body: UrgentIn, session: SessionDep, ctx: ApiOperator) -> GoalOut:
    """Urgent: the goal's cards go ahead of the account's other cards (or no longer)."""
    goal = actions.set_urgent(session, ctx, goal_id, body.urgent)
    return _goal_out(session, ctx.account_id, goal)


@router.post("/goals/{goal_id}/edit")
def edit_goal(goal_id: int, body: GoalEditIn, session: SessionDep, ctx: ApiOperator) -> GoalOut:
    """A goal that waits for you: new title and brief, then plan again."""
    goal = ways_on.edit_goal(session, ctx, goal_id, title=body.title, brief=body.brief)
    return _goal_out(session, ctx.account_id, goal)


@router.post("/goals/{goal_id}/simple-plan")
def simple_plan_goal(goal_id: int, body: SimplePlanIn, session: SessionDep,
                ctx: ApiOperator) -> GoalOut:
    """A goal that waits for you: one card per chosen specialist, the brief as instructions."""
    goal = ways_on.simple_plan(session, ctx, goal_id, body.agent_ids)
    return _goal_out(session, ctx.account_id, goal)


def _one_task(session: Session, account_id: AccountId, task: Task) -> TaskOut:
    deps = service.dependency_map(session, account_id, task.goal_id)
    return _task_out(task, deps.get(task.id, []))


@tasks_router.get("/tasks/{task_id}")
def get_task(task_id: int, session: SessionDep, ctx: ApiReader) -> TaskOut:
    return _one_task(session, ctx.account_id, service.get_task(session, ctx.account_id, task_id))


@tasks_router.get("/tasks/{task_id}/events")
def list_task_events(task_id: int, session: SessionDep, ctx: ApiReader) -> list[EventOut]:
    service.get_task(session, ctx.account_id, task_id)
    return [EventOut.model_validate(e) for e in service.task_events(session, ctx.account_id, task_id)]


@tasks_router.post("/tasks/{task_id}/approve")
def approve_task(task_id: int, session: SessionDep, ctx: ApiOperator) -> TaskOut:
    return _one_task(session, ctx.account_id, actions.approve(session, ctx, task_id))


@tasks_router.post("/tasks/approve-selected")
def approve_selected_tasks(body: ApproveSelectedIn, session: SessionDep,
                     ctx: ApiOperator) -> ApprovedOut:
    """Approve several results in one call; a card that moved on meanwhile is skipped."""
    moved = {t.id for t in actions.approve_many(session, ctx, body.task_ids)}
    return ApprovedOut(approved=sorted(moved), skipped=sorted(set(body.task_ids) - moved))


@tasks_router.post("/tasks/{task_id}/reject")
def reject_task(task_id: int, body: FeedbackIn, session: SessionDep, ctx: ApiOperator) -> TaskOut:
    return _one_task(session, ctx.account_id, actions.reject(session, ctx, task_id, body.feedback))


@tasks_router.post("/tasks/{task_id}/retry")
def retry_task(task_id: int, session: SessionDep, ctx: ApiOperator) -> TaskOut:
    return _one_task(session, ctx.account_id, actions.retry(session, ctx, task_id))


@tasks_router.post("/tasks/{task_id}/reassign")
def reassign_task(task_id: int, body: ReassignIn, session: SessionDep, ctx: ApiOperator) -> TaskOut:
    return _one_task(session, ctx.account_id,
                     actions.reassign(session, ctx, task_id, body.agent_id))


@tasks_router.post("/tasks/{task_id}/edit")
def edit_task(task_id: int, body: EditIn, session: SessionDep, ctx: ApiOperator) -> TaskOut:
    task = actions.edit(session, ctx, task_id, title=body.title, instructions=body.instructions)
    return _one_task(session, ctx.account_id, task)


@tasks_router.post("/tasks/{task_id}/cancel")
def cancel_task(task_id: int, session: SessionDep, ctx: ApiOperator) -> TaskOut:
    return _one_task(session, ctx.account_id, actions.cancel(session, ctx, task_id))

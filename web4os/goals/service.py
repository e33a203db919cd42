"""Goals and their tasks: create, save a plan, read boards, find ready work."""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from web4os.accounts.models import Account, AccountStatus
from web4os.agents.models import Agent
from web4os.db import table_of, utcnow
from web4os.errors import InvalidPlan
from web4os.goals.history import event_row, write_events
from web4os.goals.models import Goal, GoalStatus, Task, TaskDependency, TaskEvent, TaskStatus
from web4os.goals.plans import validate_plan
from web4os.goals.ranks import rank_of
from web4os.goals.schemas import GoalCreate, Plan
from web4os.goals.statemachine import TERMINAL
from web4os.queue import RANK, enqueue
from web4os.tenancy import AccountId, TenantContext, get_owned, in_account, of_account, scoped


def create_goal(session: Session, ctx: TenantContext, data: GoalCreate) -> Goal:
    """Submit a goal: record it; the CEO agent plans it once the transaction commits."""
    goal = record_goal(session, ctx, data)
    enqueue(session, "plan_goal", goal_id=goal.id, account_id=ctx.account_id,
            **{RANK: rank_of(goal.id, urgent=goal.urgent, first=True)})
    return goal


def record_goal(session: Session, ctx: TenantContext, data: GoalCreate) -> Goal:
    """The goal's row and its first event, without asking for a plan (test factories
    and callers that plan it themselves)."""
    goal = Goal(
        account_id=ctx.account_id,
        title=data.title,
        brief=data.brief,
        require_approval=data.require_approval,
        credit_cap=data.credit_cap,
        urgent=data.urgent,
        created_by_id=ctx.user_id,
        status=GoalStatus.PLANNING,
    )
    session.add(goal)
    session.flush()
    log_goal_event(session, goal, kind="goal", actor=ctx.actor, message="Goal submitted.")
    return goal


def log_goal_event(
    session: Session, goal: Goal, *, kind: str, actor: str, message: str,
    data: dict[str, object] | None = None, task_id: int | None = None,
) -> None:
    """Append to the history (goal-level when ``task_id`` is None)."""
    write_events(session, [event_row(account_id=goal.account_id, goal_id=goal.id,
                                     task_id=task_id, kind=kind, actor=actor, message=message,
                                     data=data)])


def save_plan(session: Session, goal: Goal, plan: Plan, roster: list[Agent], *,
              max_tasks: int, require_approval: bool = False) -> list[int]:
    """Validate and store a plan as tasks and dependency edges, all or nothing; the new
    cards' ids in plan order.

    The caller's transaction makes it atomic: if any rule fails, ``InvalidPlan``
    is raised before a single row is written.
    """
    by_slug = {a.slug: a for a in roster if a.enabled and not a.is_ceo}
    validate_plan(plan, by_slug, max_tasks=max_tasks)
    existing = session.scalar(select(func.count()).select_from(Task).where(Task.goal_id == goal.id))
    if existing:
        raise InvalidPlan("This goal already has a plan.")
    ids = _insert_tasks(session, goal, plan, by_slug, start=0,
                        require_approval=require_approval)
    _add_edges(session, goal, [(ids[spec.key], ids[dep])
                               for spec in plan.tasks for dep in spec.depends_on])
    goal.plan_rationale = plan.rationale
    session.flush()
    return [ids[spec.key] for spec in plan.tasks]


def _insert_tasks(session: Session, goal: Goal, plan: Plan, by_slug: dict[str, Agent], *,
                  start: int, require_approval: bool) -> dict[str, int]:
    """The plan's cards in one multi-row ``INSERT``, their ids read back by key (unique
    within a goal) in one ``SELECT``: ``key → id``.

    Not ``session.add`` per card: SQLite cannot return the ids of a batch in order, so
    the ORM inserts such rows one statement at a time: 50 statements for a 50-card plan.
    """
    tasks = table_of(Task)
    session.execute(insert(tasks), [
        {"account_id": goal.account_id, "goal_id": goal.id, "key": spec.key,
         "title": spec.title, "instructions": spec.instructions,
         "agent_id": by_slug[spec.agent].id, "owner_id": goal.created_by_id,
         "position": start + i, "estimated_credits": spec.estimated_credits,
         "requires_approval": spec.requires_approval or require_approval,
         "status": TaskStatus.PLANNED}
        for i, spec in enumerate(plan.tasks)])
    keys = [spec.key for spec in plan.tasks]
    return {key: task_id for key, task_id in session.execute(
        select(tasks.c.key, tasks.c.id).where(in_account(tasks), tasks.c.goal_id == goal.id,
                                              tasks.c.key.in_(keys)),
        {"tenant": goal.account_id})}


def save_replan(session: Session, goal: Goal, plan: Plan, roster: list[Agent], *,
                max_tasks: int, replaced: list[Task], done: list[Task], reason: str,
                require_approval: bool = False) -> list[int]:
    """Cancel the ``replaced`` tasks and add the re-plan's tasks after the ``done`` ones;
    the new cards' ids in plan order.

    Checked by the same rules as a first plan (new keys only; dependencies on new
    tasks or on done ones). All or nothing inside the caller's transaction.
    """
    from web4os.goals.statemachine import transition

    by_slug = {a.slug: a for a in roster if a.enabled and not a.is_ceo}
    existing = goal_tasks(session, AccountId(goal.account_id), goal.id)
    done_ids = {t.key: t.id for t in done}
    validate_plan(plan, by_slug, max_tasks=max_tasks, done=done_ids,
                  taken=[t.key for t in existing])
    for task in replaced:
        transition(session, task, TaskStatus.CANCELLED, actor="ceo", reason=reason,
                   values={"claim_token": None, "lease_expires_at": None})
    start = 1 + max((t.position for t in existing), default=-1)
    session.flush()  # pending ORM changes first (the goal's), before Core statements
    ids = _insert_tasks(session, goal, plan, by_slug, start=start,
                        require_approval=require_approval)
    _add_edges(session, goal, [(ids[spec.key], ids[dep] if dep in ids else done_ids[dep])
                               for spec in plan.tasks for dep in spec.depends_on])
    goal.plan_rationale = (goal.plan_rationale + "\n\nRe-plan: " + plan.rationale).strip()
    session.flush()
    return [ids[spec.key] for spec in plan.tasks]


def _add_edges(session: Session, goal: Goal, edges: list[tuple[int, int]]) -> None:
    """The plan's dependency edges in one multi-row insert (a 5 x 10 plan has 400), a
    Core one: through the ORM's bulk path the rows cost several times more."""
    if edges:
        session.execute(insert(table_of(TaskDependency)), [
            {"account_id": goal.account_id, "goal_id": goal.id, "task_id": task_id,
             "depends_on_id": dep_id} for task_id, dep_id in edges])


def get_goal(session: Session, account_id: AccountId, goal_id: int) -> Goal:
    return get_owned(session, Goal, goal_id, account_id)


def get_task(session: Session, account_id: AccountId, task_id: int) -> Task:
    return get_owned(session, Task, task_id, account_id)


def tasks_by_ids(session: Session, account_id: AccountId, ids: list[int]) -> list[Task]:
    """These cards of the account (with their agents), in plan order."""
    if not ids:
        return []
    return list(session.scalars(_tasks_by_ids_stmt(), {"tenant": account_id, "ids": ids})
                .unique())


def done_results(session: Session, account_id: AccountId, goal_id: int) -> list[Input]:
    """What the goal's done cards delivered (title, agent, note and output), in plan
    order: the columns a summary reads, no card loaded."""
    return [Input(task_id, title, agent, (note + "\n\n" + output).strip())
            for task_id, title, agent, note, output in session.execute(
                _done_stmt(), {"tenant": account_id, "goal_id": goal_id})]


def goal_tasks(session: Session, account_id: AccountId, goal_id: int) -> list[Task]:
    """The goal's tasks in plan order, agents loaded in the same query."""
    return list(session.scalars(
        scoped(Task, account_id).where(Task.goal_id == goal_id).order_by(Task.position, Task.id)
    ).unique())


def dependency_map(session: Session, account_id: AccountId, goal_id: int) -> dict[int, list[int]]:
    """``task_id → [ids it depends on]`` for one goal, in one query."""
    deps: dict[int, list[int]] = defaultdict(list)
    rows = session.execute(
        select(TaskDependency.task_id, TaskDependency.depends_on_id).where(
            of_account(TaskDependency, account_id), TaskDependency.goal_id == goal_id
        )
    )
    for task_id, dep_id in rows:
        deps[task_id].append(dep_id)
    return deps




@dataclass(frozen=True)
class Input:
    """What a specialist reads of one of its inputs (and the summary of a done card)."""

    task_id: int
    title: str
    agent_name: str
    output: str


def task_inputs(session: Session, account_id: AccountId, task_id: int) -> list[Input]:
    """The tasks ``task_id`` depends on, in plan order: only the columns a prompt shows."""
    return [Input(*row) for row in session.execute(
        _inputs_stmt(), {"tenant": account_id, "task_id": task_id})]




# Built once: these run for every card, and building a statement with aliases costs
# more than running it. The tenant filter is a bound parameter (``tenancy.in_account``).

@functools.cache
def _inputs_stmt() -> Select[int, str, str, str]:
    # Columns of the tables, not of the classes: a Core select skips the ORM's
    # per-statement work, and no object is loaded here. The tenant filter is on the
    # card's edges, the rows the query starts from: on the cards, a planner whose
    # statistics predate the account's growth reads every card of the account to
    # find a handful.
    tasks, agents, edges = table_of(Task), table_of(Agent), table_of(TaskDependency)
    t = tasks.c
    return (select(t.id, t.title, agents.c.name, t.output)
            .select_from(edges)
            .join(tasks, (edges.c.depends_on_id == t.id) & (edges.c.account_id == t.account_id))
            .join(agents, agents.c.id == t.agent_id)
            .where(in_account(edges), edges.c.task_id == bindparam("task_id"))
            .order_by(t.position, t.id))


@functools.cache
def _counts_stmt() -> Select[TaskStatus, int]:
    t = table_of(Task).c
    return (select(t.status, func.count()).where(in_account(table_of(Task)),
                                                 t.goal_id == bindparam("goal_id"))
            .group_by(t.status))




@functools.cache
def _done_stmt() -> Select[int, str, str, str, str]:
    tasks, agents = table_of(Task), table_of(Agent)
    t = tasks.c
    return (select(t.id, t.title, agents.c.name, t.note, t.output)
            .join(agents, agents.c.id == t.agent_id)
            .where(in_account(tasks), t.goal_id == bindparam("goal_id"),
                   t.status == TaskStatus.DONE)
            .order_by(t.position, t.id))


@functools.cache
def _tasks_by_ids_stmt() -> Select[Task]:
    return (select(Task).where(in_account(Task), Task.id.in_(bindparam("ids", expanding=True)))
            .order_by(Task.position, Task.id))


def status_counts(session: Session, account_id: AccountId, goal_id: int) -> dict[TaskStatus, int]:
    """How many of the goal's tasks are in each status (one grouped query)."""
    rows = session.execute(_counts_stmt(), {"tenant": account_id, "goal_id": goal_id})
    return {TaskStatus(status): int(count) for status, count in rows}


def all_finished(tasks: list[Task]) -> bool:
    """Every task is done or cancelled, and at least one is done."""
    return bool(tasks) and all(t.status in TERMINAL for t in tasks) and any(
        t.status == TaskStatus.DONE for t in tasks
    )


def all_cancelled(tasks: list[Task]) -> bool:
    """The operator cancelled every card: the goal has nothing left to run or summarise."""
    return bool(tasks) and all(t.status == TaskStatus.CANCELLED for t in tasks)


@dataclass
class GoalProgress:
    """Counts for progress bars."""

    total: int = 0
    done: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


def progress_for(session: Session, account_id: AccountId, goal_ids: list[int]) -> dict[int, GoalProgress]:
    """Task counts per goal and status, in one grouped query."""
    out: dict[int, GoalProgress] = {gid: GoalProgress() for gid in goal_ids}
    if not goal_ids:
        return out
    rows = session.execute(
        select(Task.goal_id, Task.status, func.count())
        .where(of_account(Task, account_id), Task.goal_id.in_(goal_ids))
        .group_by(Task.goal_id, Task.status)
    )
    for goal_id, status, count in rows:
        p = out[goal_id]
        p.total += count
        p.by_status[str(status.value if hasattr(status, "value") else status)] = count
        if status == TaskStatus.DONE:
            p.done += count
    return out


def list_goals(session: Session, account_id: AccountId, *, limit: int = 100) -> list[Goal]:
    """The account's goals, newest first."""
    return list(session.scalars(
        scoped(Goal, account_id).order_by(Goal.created_at.desc(), Goal.id.desc()).limit(limit)
    ))


def task_events(session: Session, account_id: AccountId, task_id: int) -> list[TaskEvent]:
    """A card's timeline, oldest first."""
    return list(session.scalars(
        scoped(TaskEvent, account_id).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id)
    ))


def goal_events(session: Session, account_id: AccountId, goal_id: int, *, limit: int = 50) -> list[TaskEvent]:
    """A goal's recent history, newest first."""
    return list(session.scalars(
        scoped(TaskEvent, account_id).where(TaskEvent.goal_id == goal_id)
        .order_by(TaskEvent.id.desc()).limit(limit)
    ))


# --- the goal's spend ----------------------------------------------------------

@dataclass(frozen=True)
class GoalState:
    """What a finishing card needs to know of its goal, read as the goal row is locked."""

    status: GoalStatus
    credit_cap: int | None
    account_active: bool
    urgent: bool = False


def add_goal_spend(session: Session, account_id: AccountId, goal_id: int,
                   charged: int) -> GoalState | None:
    """Add a charge to the goal's spend (the one place it grows), lock its row, and read
    its state. In SQL, so two workers never lose each other's increment.

    The row locks matter on Postgres: two sibling cards finishing at once take turns
    (the settlement has already locked the account row; this locks the goal row
    too, so the rule holds even for work that moves no credits), and the second
    one, once the first has committed, sees its sibling done and starts the card
    that needed both. Neither can miss it. The account's status comes back in the
    same statement.
    """
    row = session.execute(_spend_stmt(), {"tenant": account_id, "goal_id": goal_id,
                                          "charged": charged,
                                    "now": utcnow()}).first()
    if row is None:
        return None
    return GoalState(GoalStatus(row[0]), row[1], row[2] == AccountStatus.ACTIVE, bool(row[3]))


@functools.cache
def _spend_stmt() -> Any:
    goals_t, accounts = table_of(Goal), table_of(Account).c
    g = goals_t.c
    account_status = (select(accounts.status).where(accounts.id == g.account_id)
                      .scalar_subquery())
    return (update(goals_t).where(g.id == bindparam("goal_id"), in_account(goals_t))
            .values(credits_spent=g.credits_spent + bindparam("charged"),
                    updated_at=bindparam("now"))
            .returning(g.status, g.credit_cap, account_status, g.urgent))

"""Read models for the card UI: a goal's board, a card's detail, the needs-you inbox.

Each is built with a fixed number of queries, whatever the number of cards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from web4os.agents import service as agents
from web4os.agents.models import Agent
from web4os.goals import service as goals
from web4os.goals.models import Goal, Task, TaskEvent, TaskStatus
from web4os.goals.plans import layers
from web4os.goals.statemachine import WAITING_ON_OPERATOR
from web4os.tenancy import AccountId, scoped

S = TaskStatus

COLUMNS: tuple[tuple[str, str, tuple[TaskStatus, ...]], ...] = (
    ("planned", "Planned", (S.PLANNED,)),
    ("queued", "Queued", (S.QUEUED,)),
    ("running", "Running", (S.RUNNING,)),
    ("needs_review", "Needs review", (S.NEEDS_REVIEW,)),
    ("done", "Done", (S.DONE,)),
    ("stuck", "Failed · blocked · cancelled", (S.FAILED, S.BLOCKED, S.CANCELLED)),
)


@dataclass
class Column:
    key: str
    label: str
    cards: list[Task] = field(default_factory=list)


@dataclass
class Board:
    goal: Goal
    tasks: list[Task]
    columns: list[Column]
    deps: dict[int, list[int]]
    running: list[Task]
    done: int
    total: int

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def live(self) -> bool:
        """Whether the page should keep polling for changes."""
        return self.goal.status.value in ("planning", "running", "completing") or any(
            t.status in (S.QUEUED, S.RUNNING) for t in self.tasks
        )


def board(session: Session, account_id: AccountId, goal_id: int) -> Board:
    """Everything the goal page shows, in three queries."""
    goal = goals.get_goal(session, account_id, goal_id)
    tasks = goals.goal_tasks(session, account_id, goal_id)
    deps = goals.dependency_map(session, account_id, goal_id)
    columns = [Column(key, label) for key, label, _ in COLUMNS]
    index = {status: i for i, (_, _, statuses) in enumerate(COLUMNS) for status in statuses}
    for task in tasks:
        columns[index[task.status]].cards.append(task)
    return Board(goal=goal, tasks=tasks, columns=columns, deps=deps,
                 running=[t for t in tasks if t.status == S.RUNNING],
                 done=sum(1 for t in tasks if t.status == S.DONE), total=len(tasks))


@dataclass
class GraphNode:
    task: Task
    x: int
    y: int


@dataclass
class Graph:
    nodes: list[GraphNode]
    edges: list[tuple[GraphNode, GraphNode]]
    width: int
    height: int


NODE_W, NODE_H, GAP_X, GAP_Y = 190, 54, 60, 18


def plan_graph(b: Board) -> Graph:
    """Lay the DAG out in columns by depth, for a server-rendered SVG."""
    by_key = {t.id: t for t in b.tasks}
    depth = layers({str(t.id): [str(d) for d in b.deps.get(t.id, [])] for t in b.tasks})
    columns: dict[int, list[Task]] = {}
    for task in b.tasks:
        columns.setdefault(depth.get(str(task.id), 0), []).append(task)
    nodes: dict[int, GraphNode] = {}
    for col, col_tasks in sorted(columns.items()):
        for row, task in enumerate(col_tasks):
            nodes[task.id] = GraphNode(task, 10 + col * (NODE_W + GAP_X),
                                       10 + row * (NODE_H + GAP_Y))
    edges = [(nodes[d], nodes[t.id]) for t in b.tasks for d in b.deps.get(t.id, [])
             if d in by_key]
    width = 20 + max((n.x + NODE_W for n in nodes.values()), default=0)
    height = 20 + max((n.y + NODE_H for n in nodes.values()), default=0)
    return Graph(list(nodes.values()), edges, width, height)


@dataclass
class CardDetail:
    task: Task
    goal: Goal
    inputs: list[Task]
    dependents: list[Task]
    events: list[TaskEvent]
    specialists: list[Agent]


def card_detail(session: Session, account_id: AccountId, task_id: int) -> CardDetail:
    """A card with its inputs, what depends on it, its timeline and who it could go to."""
    task = goals.get_task(session, account_id, task_id)
    goal = goals.get_goal(session, account_id, task.goal_id)
    deps = goals.dependency_map(session, account_id, goal.id)
    ids_in = deps.get(task.id, [])
    ids_out = [t for t, ds in deps.items() if task.id in ds]
    related = {t.id: t for t in session.scalars(
        scoped(Task, account_id).where(Task.id.in_(ids_in + ids_out))).unique()}
    return CardDetail(
        task=task, goal=goal,
        inputs=[related[i] for i in ids_in if i in related],
        dependents=[related[i] for i in ids_out if i in related],
        events=goals.task_events(session, account_id, task.id),
        specialists=agents.specialists(session, account_id),
    )


def needs_you(session: Session, account_id: AccountId, *, limit: int = 200) -> list[Task]:
    """Cards across goals waiting for the operator, newest first."""
    return list(session.scalars(
        scoped(Task, account_id).where(Task.status.in_(WAITING_ON_OPERATOR))
        .options(joinedload(Task.goal))
        .order_by(Task.updated_at.desc(), Task.id.desc()).limit(limit)
    ).unique())


def needs_you_count(session: Session, account_id: AccountId) -> int:
    return int(session.scalar(
        select(func.count()).select_from(Task).where(
            Task.account_id == account_id, Task.status.in_(WAITING_ON_OPERATOR))
    ) or 0)

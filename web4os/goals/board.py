"""Read models for the card UI: a goal's board, a card's detail, the needs-you inbox.

Each is built with a fixed number of queries, whatever the number of cards.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, joinedload

from web4os.accounts.models import Membership, User
from web4os.agents import service as agents
from web4os.agents.models import Agent, initials_of
from web4os.goals import service as goals
from web4os.goals.models import Goal, Task, TaskDependency, TaskEvent, TaskStatus
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
    ("stuck", "Failed or stopped", (S.FAILED, S.BLOCKED, S.CANCELLED)),
)
COLUMN_KEYS = frozenset(key for key, _, _ in COLUMNS)

COLUMN_LIMIT = 25
"""Cards drawn per column before "show all": keeps a 300-card board (and its poll) light."""

GRAPH_MAX_NODES = 60
"""Above this the plan graph is unreadable; the board is the better view."""


@dataclass(frozen=True, slots=True)
class AgentBadge:
    """The agent as a card shows it."""

    id: int
    slug: str
    name: str
    role: str

    @property
    def initials(self) -> str:
        return initials_of(self.name)


@dataclass(frozen=True, slots=True)
class CardRow:
    """What a card on a big board shows, read as a plain row: building ~150 ORM objects
    (identity map, attribute instrumentation) cost more than the query that reads them.
    ``note`` and ``output`` hold their first ``SNIPPET`` characters (a card shows one line)."""

    id: int
    goal_id: int
    title: str
    status: TaskStatus
    status_reason: str
    note: str
    output: str
    agent_id: int
    owner_id: int | None
    position: int
    estimated_credits: int
    actual_credits: int
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    agent: AgentBadge


Card = Task | CardRow
SNIPPET = 2000


@dataclass
class Column:
    key: str
    label: str
    cards: list[Card] = field(default_factory=list)
    expanded: bool = False
    count: int = 0  # every card in the column; ``cards`` holds only those drawn

    @property
    def visible(self) -> list[Card]:
        return self.cards if self.expanded else self.cards[:COLUMN_LIMIT]

    @property
    def hidden(self) -> int:
        return self.count - len(self.visible)

    @property
    def collapsible(self) -> bool:
        return self.expanded and self.count > COLUMN_LIMIT


@dataclass
class Board:
    """What the goal page draws. Only the cards on screen are loaded: a column holds
    its first ``COLUMN_LIMIT`` cards unless expanded, the rest are counted."""

    goal: Goal
    columns: list[Column]
    counts: dict[TaskStatus, int]
    links: int
    tasks: list[Task] = field(default_factory=list)  # every card, for a drawable graph only
    deps: dict[int, list[int]] = field(default_factory=dict)  # the graph's edges
    owners: dict[int, str] = field(default_factory=dict)
    show: tuple[str, ...] = ()

    def _column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return self.counts.get(S.DONE, 0)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def moving(self) -> bool:
        return bool(self.counts.get(S.QUEUED) or self.counts.get(S.RUNNING))

    @property
    def live(self) -> bool:
        """Whether the page should keep polling for changes."""
        return self.goal.status.value in ("planning", "running", "completing") or self.moving

    @property
    def busy(self) -> bool:
        """Work is moving right now (poll fast), as opposed to waiting on the operator."""
        return self.goal.status.value in ("planning", "completing") or self.moving

    @property
    def running(self) -> list[Card]:
        return self._column("running").cards

    @property
    def queued(self) -> list[Card]:
        return self._column("queued").cards

    @property
    def now_count(self) -> int:
        """How many cards the "Running right now" (else "Up next") strip stands for."""
        return self.counts.get(S.RUNNING) or self.counts.get(S.QUEUED, 0)

    @property
    def waiting(self) -> int:
        return sum(self.counts.get(st, 0) for st in WAITING_ON_OPERATOR)

    @property
    def show_query(self) -> str:
        """The ``?show=…`` part that keeps expanded columns expanded while polling."""
        return _show_query(self.show)

    def show_with(self, key: str) -> str:
        return _show_query((*self.show, key))

    def show_without(self, key: str) -> str:
        return _show_query(tuple(k for k in self.show if k != key))


def _show_query(keys: tuple[str, ...]) -> str:
    return "&".join(f"show={key}" for key in keys)


def board(session: Session, account_id: AccountId, goal_id: int,
          show: Collection[str] = ()) -> Board:
    """Everything the goal page shows, in a fixed number of queries whatever the card count.

    A small goal (one whose plan graph is drawn) is loaded whole; a large one loads
    per column only the cards on screen, so a 1,000-card board costs what a 150-card
    one does.
    """
    goal = goals.get_goal(session, account_id, goal_id)
    counts = goals.status_counts(session, account_id, goal_id)
    expanded = tuple(key for key, _, _ in COLUMNS if key in show)
    columns = [Column(key, label, expanded=key in expanded,
                      count=sum(counts.get(st, 0) for st in statuses))
               for key, label, statuses in COLUMNS]
    drawable = sum(counts.values()) <= GRAPH_MAX_NODES
    tasks: list[Task] = []
    cards: list[Card]
    if drawable:  # the graph needs every card and edge
        tasks = goals.goal_tasks(session, account_id, goal_id)
        cards = list(tasks)
        deps = goals.dependency_map(session, account_id, goal_id)
        links = sum(len(d) for d in deps.values())
    else:  # a big goal: the cards on screen, and how many edges there are
        cards = list(_visible_cards(session, account_id, goal_id, COLUMN_LIMIT, expanded))
        deps = {}
        links = int(session.scalar(select(func.count()).select_from(TaskDependency).where(
            TaskDependency.account_id == account_id, TaskDependency.goal_id == goal_id)) or 0)
    for card in cards:
        columns[_COLUMN_OF[card.status]].cards.append(card)
    return Board(goal=goal, columns=columns, counts=counts, links=links, tasks=tasks, deps=deps,
                 owners=owner_names(session, account_id, {c.owner_id for c in cards}),
                 show=expanded)


_COLUMN_OF = {status: i for i, (_, _, statuses) in enumerate(COLUMNS) for status in statuses}


def _visible_cards(session: Session, account_id: AccountId, goal_id: int, limit: int,
                   expanded: tuple[str, ...]) -> list[CardRow]:
    """The cards on screen, in one query: the goal's cards are numbered per column by a
    window function over narrow rows (id, column, position), and only each column's
    first ``limit`` (all of an expanded column) are then read whole, with their agent,
    as plain rows of what a card shows (``_card.html``).

    The numbering is a materialized CTE on Postgres: read once, then joined to the
    cards by primary key. A plain subquery joined to the cards could be rerun for every
    card on a goal just filled (its row count not yet in the planner's statistics).
    Numbering narrow rows keeps the sort small: a card's text is read only if shown.
    The outer query takes the CTE's ids (this account's only) and does not filter by
    account again: on such a goal, that filter made Postgres read the account's cards
    once per card shown (11 ms instead of 3 for 1,000 cards). Row-level security still
    walls in both reads.
    """
    column = case(_COLUMN_OF, value=Task.status)
    ranked = (select(Task.id.label("id"), column.label("col"),
                     func.row_number().over(partition_by=column,
                                            order_by=(Task.position, Task.id)).label("n"))
              .where(Task.account_id == account_id, Task.goal_id == goal_id)
              .cte("ranked").prefix_with("MATERIALIZED", dialect="postgresql"))
    r = ranked.c
    open_cols = [i for i, (key, _, _) in enumerate(COLUMNS) if key in expanded]
    rows = session.execute(
        select(Task.id, Task.goal_id, Task.title, Task.status, Task.status_reason,
               func.substr(Task.note, 1, SNIPPET), func.substr(Task.output, 1, SNIPPET),
               Task.agent_id, Task.owner_id, Task.position, Task.estimated_credits,
               Task.actual_credits, Task.attempts, Task.started_at, Task.finished_at,
               Agent.id, Agent.slug, Agent.name, Agent.role)
        .select_from(ranked).join(Task, Task.id == r.id)
        .outerjoin(Agent, Agent.id == Task.agent_id)
        .where(or_(r.n <= limit, r.col.in_(open_cols)))
        .order_by(Task.position, Task.id))
    return [CardRow(tid, gid, title, status, reason, note, output, agent_id, owner_id, position,
                    estimated, actual, attempts, started, finished,
                    AgentBadge(a_id, a_slug, a_name, a_role))
            for (tid, gid, title, status, reason, note, output, agent_id, owner_id, position,
                 estimated, actual, attempts, started, finished, a_id, a_slug, a_name, a_role)
            in rows]


def owner_names(session: Session, account_id: AccountId, user_ids: Collection[int | None]) -> dict[int, str]:
    """Display names of card owners, limited to members of this account (one query)."""
    ids = [i for i in user_ids if i is not None]
    if not ids:
        return {}
    rows = session.execute(
        select(User.id, User.display_name, User.email).join(Membership, Membership.user_id == User.id)
        .where(Membership.account_id == account_id, User.id.in_(ids))
    )
    return {uid: name or email.split("@")[0] for uid, name, email in rows}


# --- the plan graph -------------------------------------------------------------

@dataclass
class GraphNode:
    task: Task
    x: int
    y: int
    lines: tuple[str, ...] = ()


@dataclass
class Graph:
    nodes: list[GraphNode]
    edges: list[tuple[GraphNode, GraphNode]]
    width: int
    height: int
    too_big: bool = False
    node_w: int = 0
    node_h: int = 0
    limit: int = GRAPH_MAX_NODES


NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 224, 64, 56, 16, 12
TITLE_CHARS = 27


def _wrap(title: str, width: int = TITLE_CHARS, lines: int = 2) -> tuple[str, ...]:
    """Break a title into at most two short lines for an SVG label (SVG has no wrapping)."""
    out: list[str] = []
    current = ""
    words = title.split()
    for i, word in enumerate(words):
        candidate = f"{current} {word}".strip()
        if len(candidate) <= width:
            current = candidate
            continue
        if current:
            out.append(current)
        current = word
        if len(out) == lines - 1:
            rest = " ".join([current, *words[i + 1:]])
            out.append(rest if len(rest) <= width else rest[: width - 1].rstrip() + "…")
            return tuple(out)
    if current:
        out.append(current if len(current) <= width else current[: width - 1] + "…")
    return tuple(out[:lines])


def plan_graph(b: Board) -> Graph:
    """Lay the DAG out in columns by depth, for a server-rendered SVG.

    Within a column, cards sit near the average row of what they depend on
    (barycentre ordering), which keeps edges short and mostly uncrossed.
    """
    if b.total > GRAPH_MAX_NODES:
        return Graph([], [], 0, 0, too_big=True, node_w=NODE_W, node_h=NODE_H)
    by_key = {t.id: t for t in b.tasks}
    depth = layers({str(t.id): [str(d) for d in b.deps.get(t.id, []) if d in by_key]
                    for t in b.tasks})
    columns: dict[int, list[Task]] = {}
    for task in b.tasks:
        columns.setdefault(depth.get(str(task.id), 0), []).append(task)
    row_of: dict[int, float] = {}
    nodes: dict[int, GraphNode] = {}
    for col, col_tasks in sorted(columns.items()):
        if col > 0:
            def centre(t: Task) -> float:
                parents = [row_of[d] for d in b.deps.get(t.id, []) if d in row_of]
                return sum(parents) / len(parents) if parents else float(t.position)
            col_tasks.sort(key=lambda t: (centre(t), t.position))
        for row, task in enumerate(col_tasks):
            row_of[task.id] = row
            nodes[task.id] = GraphNode(task, PAD + col * (NODE_W + GAP_X),
                                       PAD + row * (NODE_H + GAP_Y), _wrap(task.title))
    edges = [(nodes[d], nodes[t.id]) for t in b.tasks for d in b.deps.get(t.id, [])
             if d in nodes]
    width = PAD + max((n.x + NODE_W for n in nodes.values()), default=0)
    height = PAD + max((n.y + NODE_H for n in nodes.values()), default=0)
    return Graph(list(nodes.values()), edges, width, height, node_w=NODE_W, node_h=NODE_H)


# --- one card -------------------------------------------------------------------

@dataclass
class CardDetail:
    task: Task
    goal: Goal
    inputs: list[Task]
    dependents: list[Task]
    events: list[TaskEvent]
    specialists: list[Agent]
    owner: str = ""
    agent_names: dict[str, str] = field(default_factory=dict)

    @property
    def model_calls(self) -> list[TaskEvent]:
        return [e for e in self.events if e.kind == "model_call"]

    @property
    def tokens(self) -> int:
        return sum(int(e.data.get("prompt_tokens", 0)) + int(e.data.get("completion_tokens", 0))
                   for e in self.model_calls)

    @property
    def live(self) -> bool:
        """Poll while the card may still move on its own (waiting, queued or running)."""
        return self.task.status in (S.PLANNED, S.QUEUED, S.RUNNING) and \
            self.goal.status.value in ("planning", "running", "completing")

    def actor(self, raw: str) -> str:
        """Who did it, in the operator's words: a person's email or an agent's name."""
        kind, _, name = raw.partition(":")
        if kind == "user" and name:
            return name
        if kind == "agent" and name:
            return self.agent_names.get(name, name)
        return self.agent_names.get(raw, raw)


def card_detail(session: Session, account_id: AccountId, task_id: int) -> CardDetail:
    """A card with its inputs, what depends on it, its timeline and who it could go to."""
    task = goals.get_task(session, account_id, task_id)
    goal = goals.get_goal(session, account_id, task.goal_id)
    deps = goals.dependency_map(session, account_id, goal.id)
    ids_in = deps.get(task.id, [])
    ids_out = [t for t, ds in deps.items() if task.id in ds]
    related = {t.id: t for t in session.scalars(
        scoped(Task, account_id).where(Task.id.in_(ids_in + ids_out))).unique()}
    roster = agents.list_agents(session, account_id)
    names = {a.slug: a.name for a in roster}
    names.update({"ceo": next((a.name for a in roster if a.is_ceo), "CEO agent"),
                  "system": "web4os"})
    return CardDetail(
        task=task, goal=goal,
        inputs=[related[i] for i in ids_in if i in related],
        dependents=[related[i] for i in ids_out if i in related],
        events=goals.task_events(session, account_id, task.id),
        specialists=[a for a in roster if a.enabled and not a.is_ceo],
        owner=owner_names(session, account_id, [task.owner_id]).get(task.owner_id or 0, ""),
        agent_names=names,
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

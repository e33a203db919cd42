"""Read models for the card UI: a goal's board, a card's detail, the needs-you inbox.

Each is built with a fixed number of queries, whatever the number of cards.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import Request
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, joinedload

from web4os.accounts.models import Membership, User
from web4os.agents import service as agents
from web4os.agents.models import Agent, initials_of
from web4os.files import outputs
from web4os.files.models import StoredFile
from web4os.goals import service as goals
from web4os.goals.graph import GRAPH_MAX_NODES
from web4os.goals.models import Goal, GoalStatus, Task, TaskDependency, TaskEvent, TaskStatus
from web4os.goals.scheduling import OUT_OF_CREDITS
from web4os.goals.statemachine import WAITING_ON_OPERATOR
from web4os.goals.triage import GoalState, goal_state
from web4os.tenancy import AccountId, of_account, scoped
from web4os.tools import calls as tool_calls
from web4os.tools.models import WAITING_CALLS, ToolCall

COLUMNS: tuple[tuple[str, str, tuple[TaskStatus, ...]], ...] = (
    ("planned", "Planned", (TaskStatus.PLANNED,)),
    ("queued", "Queued", (TaskStatus.QUEUED,)),
    ("running", "Running", (TaskStatus.RUNNING,)),
    ("needs_review", "Needs review", (TaskStatus.NEEDS_REVIEW,)),
    ("done", "Done", (TaskStatus.DONE,)),
    ("on_hold", "On hold", (TaskStatus.BLOCKED,)),
    ("stuck", "Failed or stopped", (TaskStatus.FAILED, TaskStatus.CANCELLED)),
)
"""Cards on hold (waiting for credits or a tool call's approval) resume by themselves or
with one decision; they are kept apart from failed and cancelled ones, which need more."""
COLUMN_KEYS = frozenset(key for key, _, _ in COLUMNS)
COLUMN_LIMIT = 25
"""Cards drawn per column before "show all": keeps a 300-card board (and its poll) light."""


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
    tries: int  # runs but those that stopped for the operator (``Task.tries``)
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
    credit_blocked: int = 0  # cards on hold until credits arrive

    def state(self, ways_on: bool = False) -> GoalState:
        """The goal's status in the operator's words (``triage.goal_state``)."""
        return goal_state(self.goal, self.counts, credit_blocked=self.credit_blocked,
                          ways_on=ways_on)

    @property
    def reviewable(self) -> int:
        return self.counts.get(TaskStatus.NEEDS_REVIEW, 0)

    @property
    def finished(self) -> bool:
        """The goal is complete: the page leads with the result, the cards one click away."""
        return self.goal.status == GoalStatus.COMPLETED

    def _column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return self.counts.get(TaskStatus.DONE, 0)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def moving(self) -> bool:
        return bool(self.counts.get(TaskStatus.QUEUED) or self.counts.get(TaskStatus.RUNNING))

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
        return self.counts.get(TaskStatus.RUNNING) or self.counts.get(TaskStatus.QUEUED, 0)

    @property
    def waiting(self) -> int:
        """Cards waiting for a decision (on hold for credits is not one)."""
        return sum(self.counts.get(st, 0) for st in WAITING_ON_OPERATOR) - self.credit_blocked

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
            of_account(TaskDependency, account_id), TaskDependency.goal_id == goal_id)) or 0)
    for card in cards:
        columns[_COLUMN_OF[card.status]].cards.append(card)
    credit_blocked = int(session.scalar(select(func.count()).select_from(Task).where(
        of_account(Task, account_id), Task.goal_id == goal_id,
        Task.status == TaskStatus.BLOCKED, Task.status_reason == OUT_OF_CREDITS)) or 0) \
        if counts.get(TaskStatus.BLOCKED) else 0
    return Board(goal=goal, columns=columns, counts=counts, links=links, tasks=tasks, deps=deps,
                 owners=owner_names(session, account_id, {c.owner_id for c in cards}),
                 show=expanded, credit_blocked=credit_blocked)


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
    account again: on such a goal, that filter makes Postgres read the account's cards
    once per card shown. Row-level security still walls in both reads.
    """
    column = case(_COLUMN_OF, value=Task.status)
    ranked = (select(Task.id.label("id"), column.label("col"),
                     func.row_number().over(partition_by=column,
                                            order_by=(Task.position, Task.id)).label("n"))
              .where(of_account(Task, account_id), Task.goal_id == goal_id)
              .cte("ranked").prefix_with("MATERIALIZED", dialect="postgresql"))
    r = ranked.c
    open_cols = [i for i, (key, _, _) in enumerate(COLUMNS) if key in expanded]
    rows = session.execute(
        select(Task.id, Task.goal_id, Task.title, Task.status, Task.status_reason,
               func.substr(Task.note, 1, SNIPPET), func.substr(Task.output, 1, SNIPPET),
               Task.agent_id, Task.owner_id, Task.position, Task.estimated_credits,
               Task.actual_credits, Task.attempts - Task.waits, Task.started_at, Task.finished_at,
               Agent.id, Agent.slug, Agent.name, Agent.role)
        .select_from(ranked).join(Task, Task.id == r.id)
        .outerjoin(Agent, Agent.id == Task.agent_id)
        .where(or_(r.n <= limit, r.col.in_(open_cols)))
        .order_by(Task.position, Task.id))
    return [CardRow(tid, gid, title, status, reason, note, output, agent_id, owner_id, position,
                    estimated, actual, tries, started, finished,
                    AgentBadge(a_id, a_slug, a_name, a_role))
            for (tid, gid, title, status, reason, note, output, agent_id, owner_id, position,
                 estimated, actual, tries, started, finished, a_id, a_slug, a_name, a_role)
            in rows]


def owner_names(session: Session, account_id: AccountId, user_ids: Collection[int | None]) -> dict[int, str]:
    """Display names of card owners, limited to members of this account (one query)."""
    ids = [i for i in user_ids if i is not None]
    if not ids:
        return {}
    rows = session.execute(
        select(User.id, User.display_name, User.email).join(Membership, Membership.user_id == User.id)
        .where(of_account(Membership, account_id), User.id.in_(ids))
    )
    return {uid: name or email.split("@")[0] for uid, name, email in rows}


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
    tool_calls: list[ToolCall] = field(default_factory=list)  # MCP calls, oldest first
    output_files: list[StoredFile] = field(default_factory=list)  # made by its specialist

    @property
    def waiting_calls(self) -> list[ToolCall]:
        """Tool calls the operator decides before the card goes on."""
        return [c for c in self.tool_calls if c.status in WAITING_CALLS]

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
        return self.task.status in (TaskStatus.PLANNED, TaskStatus.QUEUED, TaskStatus.RUNNING) and \
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
        tool_calls=tool_calls.calls_of_task(session, account_id, task.id),
        output_files=outputs.card_outputs(session, account_id, task.id),
    )


def needs_you(session: Session, account_id: AccountId, *, limit: int = 200) -> list[Task]:
    """Cards across goals waiting for the operator, newest first."""
    return list(session.scalars(
        scoped(Task, account_id).where(Task.status.in_(WAITING_ON_OPERATOR))
        .options(joinedload(Task.goal))
        .order_by(Task.updated_at.desc(), Task.id.desc()).limit(limit)
    ).unique())


def needs_you_count(session: Session, account_id: AccountId) -> int:
    """Cards and goals waiting for the operator (a goal waits when it is failed:
    ``goals.ways_on``), in one query."""
    cards = select(func.count()).select_from(Task).where(
        of_account(Task, account_id), Task.status.in_(WAITING_ON_OPERATOR)).scalar_subquery()
    stopped = select(func.count()).select_from(Goal).where(
        of_account(Goal, account_id), Goal.status == GoalStatus.FAILED).scalar_subquery()
    return int(session.scalar(select(cards + stopped)) or 0)


def needs_you_on_page(request: Request) -> int | None:
    """The nav's "Needs you" count for the signed-in viewer's account (``page_value``)."""
    viewer, session = getattr(request.state, "viewer", None), getattr(request.state, "session", None)
    if viewer is None or viewer.account is None or session is None:
        return None
    return needs_you_count(session, AccountId(viewer.account.id))

"""What each agent of the roster is doing: the cards it runs now, the cards it finished
this month and what its work cost this month (the agents page shows them per agent).

It lives beside the usage read models because it reads goals and the ledger, which the
agents package sits below; start-up hands it to the agents page as a page value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from web4os.credits.models import CreditLedgerEntry as Entry
from web4os.db import utcnow
from web4os.goals.models import Task, TaskStatus
from web4os.tenancy import AccountId, of_account, scoped
from web4os.usage.service import spend_by

RUNNING_SHOWN = 5


@dataclass(frozen=True)
class RunningCard:
    task_id: int
    goal_id: int
    title: str


@dataclass
class AgentWork:
    running: list[RunningCard] = field(default_factory=list)
    running_total: int = 0
    done_this_month: int = 0
    spent_this_month: int = 0


def month_start(now: datetime | None = None) -> datetime:
    """The first instant of this calendar month, UTC (what "this month" counts from)."""
    now = now or utcnow()
    return datetime(now.year, now.month, 1, tzinfo=UTC)


def agent_work(session: Session, account_id: AccountId, *,
               now: datetime | None = None) -> dict[int, AgentWork]:
    """Per agent id: cards running now (the first few by start), finished this month, and
    credits charged this month. Agents with none of these are absent."""
    since = month_start(now)
    work: dict[int, AgentWork] = {}
    running = session.execute(
        scoped(Task, account_id).with_only_columns(Task.agent_id, Task.id, Task.goal_id, Task.title)
        .where(Task.status == TaskStatus.RUNNING).order_by(Task.started_at, Task.id))
    for agent_id, task_id, goal_id, title in running:
        w = work.setdefault(agent_id, AgentWork())
        w.running_total += 1
        if len(w.running) < RUNNING_SHOWN:
            w.running.append(RunningCard(task_id, goal_id, title))
    done = session.execute(
        select(Task.agent_id, func.count()).where(
            of_account(Task, account_id), Task.status == TaskStatus.DONE,
            Task.finished_at >= since).group_by(Task.agent_id))
    for agent_id, count in done:
        work.setdefault(agent_id, AgentWork()).done_this_month = int(count)
    for agent_id, spent in spend_by(session, account_id, Entry.agent_id, since=since).items():
        if agent_id is not None:
            work.setdefault(agent_id, AgentWork()).spent_this_month = spent
    return work


def agent_work_on_page(request: Request) -> Callable[[], dict[int, AgentWork]] | None:
    """``agent_work`` for the signed-in viewer's account, read only if the page asks."""
    viewer, session = getattr(request.state, "viewer", None), getattr(request.state, "session", None)
    if viewer is None or viewer.account is None or session is None:
        return None
    account_id = AccountId(viewer.account.id)
    return lambda: agent_work(session, account_id)

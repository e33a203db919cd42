"""A goal's results to take away: the CEO's summary, then each card's deliverable in plan
order with who made it, what it cost and the files it drew on; as a page, as Markdown,
and through the API. Each card's deliverable also downloads on its own."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from web4os.files import outputs
from web4os.goals import service
from web4os.goals.models import Goal, GoalStatus, Task, TaskEvent, TaskStatus
from web4os.tenancy import AccountId, of_account


@dataclass(frozen=True)
class ReportCard:
    id: int
    title: str
    agent: str
    status: str
    credits: int
    deliverable: str
    files: list[str] = field(default_factory=list)
    made: list[MadeFile] = field(default_factory=list)


@dataclass(frozen=True)
class MadeFile:
    """A file the card's specialist handed over (downloads at ``/files/{id}/download``)."""

    id: int
    name: str


@dataclass(frozen=True)
class Report:
    goal: Goal
    cards: list[ReportCard]

    @property
    def finished(self) -> bool:
        return self.goal.status == GoalStatus.COMPLETED

    @property
    def when(self) -> datetime:
        return self.goal.completed_at or self.goal.updated_at


def _files_used(session: Session, account_id: AccountId, goal_id: int) -> dict[int, list[str]]:
    """Each card's files, from the event that recorded its latest deliverable."""
    rows = session.execute(
        select(TaskEvent.task_id, TaskEvent.data)
        .where(of_account(TaskEvent, account_id), TaskEvent.goal_id == goal_id,
               TaskEvent.to_status == TaskStatus.NEEDS_REVIEW.value)
        .order_by(TaskEvent.id))
    used: dict[int, list[str]] = {}
    for task_id, data in rows:
        if task_id is not None:
            used[task_id] = list((data or {}).get("files") or [])
    return used


def goal_report(session: Session, account_id: AccountId, goal_id: int) -> Report:
    """The report of one of this account's goals; cards without a deliverable are left out."""
    goal = service.get_goal(session, account_id, goal_id)
    used = _files_used(session, account_id, goal_id)
    made = {task_id: [MadeFile(f.id, f.name) for f in rows]
            for task_id, rows in outputs.outputs_by_card(session, account_id, goal_id).items()}
    cards = [ReportCard(t.id, t.title, t.agent.name, t.status.value, t.actual_credits,
                        t.output, used.get(t.id, []), made.get(t.id, []))
             for t in service.goal_tasks(session, account_id, goal_id)
             if t.output and t.status == TaskStatus.DONE]
    return Report(goal, cards)


def card_markdown(task: Task, files: list[str], made: list[str] | None = None) -> str:
    """One card's deliverable as a Markdown document of its own."""
    lines = [f"# {task.title}", "",
             f"*By {task.agent.name} · {task.actual_credits:,} credits*", "", task.output.strip()]
    if files:
        lines += ["", "**Files used:** " + ", ".join(files)]
    if made:
        lines += ["", "**Files made:** " + ", ".join(made)]
    return "\n".join(lines) + "\n"


def card_download(session: Session, account_id: AccountId, task_id: int) -> tuple[str, str]:
    """(file name, Markdown) of a card's deliverable."""
    task = service.get_task(session, account_id, task_id)
    files = _files_used(session, account_id, task.goal_id).get(task.id, [])
    made = [f.name for f in outputs.card_outputs(session, account_id, task.id)]
    return f"{slug(task.title)}.md", card_markdown(task, files, made)


def report_markdown(report: Report) -> str:
    """The whole report as one Markdown document."""
    g = report.goal
    lines = [f"# {g.title}", "",
             f"*{g.status.value.capitalize()} · {g.credits_spent:,} credits · "
             f"{report.when:%d %b %Y}*", ""]
    if g.brief:
        lines += [f"> {' '.join(g.brief.split())}", ""]
    lines += ["## Summary", "", (g.summary or "No summary yet.").strip(), ""]
    for n, card in enumerate(report.cards, start=1):
        lines += [f"## {n}. {card.title}", "",
                  f"*By {card.agent} · {card.credits:,} credits"
                  + (f" · files used: {', '.join(card.files)}" if card.files else "") + "*", "",
                  _demote(card.deliverable.strip()), ""]
        if card.made:
            lines += ["**Files made:** " + ", ".join(f.name for f in card.made), ""]
    return "\n".join(lines)


def _demote(markdown: str) -> str:
    """Headings inside a deliverable go two levels down, under its card's heading."""
    return re.sub(r"(?m)^(#{1,4}) ", lambda m: "#" * min(6, len(m.group(1)) + 2) + " ", markdown)


def slug(title: str) -> str:
    """A file name made of a title's letters and digits."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "deliverable"

"""The agents page: what each agent runs now, the cards it finished this month and
what its work cost this month; tools named in words."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from tests.factories import Tenant, login, make_planned_goal, plan_of, roster
from web4os.credits import service as credits
from web4os.credits.models import CreditLedgerEntry
from web4os.credits.service import Refs
from web4os.goals.models import Task, TaskStatus
from web4os.goals.statemachine import transition
from web4os.usage.agent_work import month_start


def _rows(page: str) -> dict[str, str]:
    """Each roster row's text, by the agent's handle."""
    table = page.split('id="roster"', 1)[1].split("</table>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        handle = re.search(r"@([\w-]+)", row)
        if handle:
            rows[handle.group(1)] = html.unescape(" ".join(re.sub(r"<[^>]+>", " ", row).split()))
    return rows


def _move(db: Session, task: Task, *statuses: TaskStatus) -> None:
    for status in statuses:
        transition(db, task, status, actor="test")


def _charge(db: Session, tenant: Tenant, task: Task, key: str, credits_used: int) -> None:
    refs = Refs(goal_id=task.goal_id, task_id=task.id, agent_id=task.agent_id)
    credits.reserve(db, tenant.id, key, credits_used + 2, refs=refs, reason="Card")
    credits.settle(db, tenant.id, key, credits_used, refs=refs, reason="Card")


def test_each_agent_shows_its_running_cards_and_this_months_done_and_spend(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    goal = make_planned_goal(db, tenant, plan_of(("a", "writer", []), ("b", "writer", []),
                                                 ("c", "researcher", []), ("d", "researcher", [])))
    cards = {t.key: t for t in db.query(Task).filter_by(goal_id=goal.id)}
    _move(db, cards["a"], TaskStatus.QUEUED, TaskStatus.RUNNING)
    done = (TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.NEEDS_REVIEW, TaskStatus.DONE)
    _move(db, cards["c"], *done)
    _move(db, cards["d"], *done)
    _charge(db, tenant, cards["c"], "task:c:a1", 7)
    _charge(db, tenant, cards["d"], "task:d:a1", 4)
    last_month = month_start() - timedelta(days=2)
    # card d and its charge belong to last month: they don't count for this one
    db.execute(update(Task).where(Task.id == cards["d"].id).values(finished_at=last_month))
    db.execute(update(CreditLedgerEntry).where(CreditLedgerEntry.task_id == cards["d"].id)
               .values(created_at=last_month))
    db.commit()

    login(client, tenant.viewer)
    rows = _rows(client.get("/agents").text)
    assert "running Task a" in rows["writer"] and "idle" not in rows["writer"]
    assert "Task b" not in rows["writer"]  # planned, not running
    assert re.search(r"Task a 0 0 ", rows["writer"]), rows["writer"]
    assert re.search(r"idle 1 7 ", rows["researcher"]), rows["researcher"]
    assert re.search(r"idle 0 0 ", rows["ceo"]), rows["ceo"]
    assert f'href="/goals/{goal.id}/tasks/{cards["a"].id}"' in client.get("/agents").text


def test_tools_are_named_in_words(client: TestClient, db: Session, tenant: Tenant) -> None:
    team = roster(db, tenant)
    login(client, tenant.owner)
    rows = _rows(client.get("/agents").text)
    assert "Read other results of this goal; Read the account's notes" in rows["writer"]
    assert "read_goal_outputs" not in rows["writer"]
    reader = TestClient(client.app)
    login(reader, tenant.viewer)  # an owner gets the form; readers get the facts
    detail = html.unescape(reader.get(f"/agents/{team['writer'].id}").text)
    assert "Read the account's notes" in detail.split("<dt>Tools</dt>", 1)[1][:300]

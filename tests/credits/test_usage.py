"""The usage page, its chart, the ledger CSV and the JSON endpoint show the right numbers."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.factories import Tenant, login, make_planned_goal, make_tenant, plan_of
from web4os.accounts.models import Role
from web4os.accounts.tokens import create_token
from web4os.credits import service as credits
from web4os.credits.models import CreditLedgerEntry, EntryKind
from web4os.credits.service import Refs
from web4os.db import utcnow
from web4os.goals.models import Goal, Task
from web4os.usage import service as usage
from web4os.workers.embedded import EmbeddedRunner


def _arrange(db: Session, tenant: Tenant, runner: EmbeddedRunner) -> tuple[Goal, Task]:
    """One settled charge of 3, one hold of 4 still in flight, a top-up of 50.

    The top-up enqueues ``resume_account``; we wait for it and end the read snapshot,
    so later writes of this (deferred, on SQLite) session don't collide with it.
    """
    goal = make_planned_goal(db, tenant, plan_of(("a", "writer", []), ("b", "writer", [])),
                             title="Spring promotion")
    a, b = db.scalars(select(Task).where(Task.goal_id == goal.id)
                      .order_by(Task.position)).unique().all()
    refs_a = Refs(goal_id=goal.id, task_id=a.id, agent_id=a.agent_id)
    refs_b = Refs(goal_id=goal.id, task_id=b.id, agent_id=b.agent_id)
    credits.reserve(db, tenant.id, f"task:{a.id}:a1", 5, refs=refs_a, reason="Hold for a")
    credits.settle(db, tenant.id, f"task:{a.id}:a1", 3, refs=refs_a, reason="a done")
    credits.reserve(db, tenant.id, f"task:{b.id}:a1", 4, refs=refs_b, reason="Hold for b")
    credits.grant(db, tenant.id, 50, kind=EntryKind.TOPUP, resume=True, actor="admin:ops",
                  reason="=HYPERLINK(\"http://evil\")")
    db.commit()
    assert runner.wait_idle()
    db.rollback()
    return goal, a


def test_usage_summary_numbers(db: Session, tenant: Tenant, runner: EmbeddedRunner) -> None:
    goal, a = _arrange(db, tenant, runner)
    other = make_tenant(db, "Other")  # its spend must not leak in
    credits.reserve(db, other.id, "other:1", 7, refs=Refs(), reason="x")
    credits.settle(db, other.id, "other:1", 7, refs=Refs(), reason="x")
    db.commit()

    u = usage.usage_summary(db, tenant.id)
    assert u.balance == 1000 - 3 - 4 + 50 == credits.balance(db, tenant.id)
    assert (u.spent_total, u.held, u.spent_last_30_days, u.added_total) == (3, 4, 3, 1050)
    assert [(g.goal_id, g.spent, g.held) for g in u.by_goal] == [(goal.id, 3, 4)]
    writer = next(x for x in u.by_agent if x.agent_id == a.agent_id)
    assert (writer.spent, writer.held) == (3, 4)
    assert sum(x.spent for x in u.by_agent) == 3
    assert len(u.by_day) == 30 and u.by_day[-1] == usage.DaySpend(utcnow().date(), 3)
    assert sum(d.credits for d in u.by_day) == 3


def test_spend_per_day_uses_the_settlement_day(db: Session, tenant: Tenant,
                                               runner: EmbeddedRunner) -> None:
    _arrange(db, tenant, runner)
    three_days_ago = utcnow() - timedelta(days=3)
    db.execute(update(CreditLedgerEntry).where(CreditLedgerEntry.idempotency_key.like("%:settle"))
               .values(created_at=three_days_ago))
    db.commit()
    days = usage.spend_by_day(db, tenant.id, days=7)
    assert [d.credits for d in days] == [0, 0, 0, 3, 0, 0, 0]
    assert days[3].day == three_days_ago.date()
    bars = usage.chart_bars(days, width=70, height=100)
    assert bars[3].height == 100 and bars[3].y == 0
    assert all(b.height == 1 for i, b in enumerate(bars) if i != 3)


def test_the_usage_page_shows_balance_spend_chart_and_ledger(
    client: TestClient, db: Session, tenant: Tenant, runner: EmbeddedRunner,
) -> None:
    _goal, _ = _arrange(db, tenant, runner)
    login(client, tenant.viewer)  # every member may read usage
    page = client.get("/usage")
    assert page.status_code == 200
    html = page.text
    assert re.search(r'id="usage-balance">1,043<', html)
    assert re.search(r'id="usage-held">4<', html)
    assert re.search(r'id="usage-spent-30">3<', html)
    assert "<svg" in html and html.count('class="chart-bar') == 30
    assert "style=" not in html.split('<main', 1)[1]  # CSP: no inline styles
    goals_table = html.split('id="usage-goals"', 1)[1].split("</table>", 1)[0]
    assert "Spring promotion" in goals_table and ">3<" in goals_table and ">4<" in goals_table
    ledger = html.split('id="ledger-table"', 1)[1].split("</table>", 1)[0]
    assert ledger.count("<tr>") == 1 + 5  # header + grant, hold, settle, hold, top-up
    assert "+50" in ledger and "topup" in ledger
    assert "credit_cap" not in html  # a viewer sees caps, not the forms to change them


def test_the_ledger_is_paginated(client: TestClient, db: Session, tenant: Tenant) -> None:
    for i in range(60):
        credits.grant(db, tenant.id, 1, actor="test", reason=f"grant {i}")
    db.commit()
    login(client, tenant.owner)
    first = client.get("/usage").text
    assert "Page 1 of 2" in first and "grant 59" in first and "grant 5<" not in first
    second = client.get("/usage?page=2").text
    assert "Page 2 of 2" in second and "grant 5<" in second
    assert client.get("/usage?page=99").status_code == 200


def test_the_ledger_csv(client: TestClient, db: Session, tenant: Tenant,
                        runner: EmbeddedRunner) -> None:
    _goal, a = _arrange(db, tenant, runner)
    login(client, tenant.owner)
    resp = client.get("/usage/ledger.csv")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    assert "attachment" in resp.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    db.rollback()
    entries = db.scalars(select(CreditLedgerEntry).where(
        CreditLedgerEntry.account_id == tenant.id).order_by(CreditLedgerEntry.id)).all()
    assert [int(r["id"]) for r in rows] == [e.id for e in entries]
    assert sum(int(r["amount"]) for r in rows) == credits.balance(db, tenant.id)
    assert [r["kind"] for r in rows] == ["grant", "reservation", "settlement", "reservation",
                                         "topup"]
    settle = rows[2]
    assert (settle["goal"], settle["task_id"], settle["amount"]) == (
        "Spring promotion", str(a.id), "2")
    assert settle["reference"] == f"task:{a.id}:a1:settle"
    assert rows[-1]["reason"].startswith("'=")  # a formula is defused for spreadsheets


def test_the_usage_json_endpoint(client: TestClient, db: Session, tenant: Tenant,
                                 runner: EmbeddedRunner) -> None:
    goal, _ = _arrange(db, tenant, runner)
    token = create_token(db, tenant.ctx(), name="ci", role=Role.VIEWER).secret
    db.commit()
    resp = client.get("/api/v1/credits/usage", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    body = resp.json()
    assert (body["balance"], body["held"], body["spent_total"]) == (1043, 4, 3)
    assert body["by_goal"][0] == {"goal_id": goal.id, "title": "Spring promotion",
                                  "status": "running", "spent": 3, "held": 4, "cap": None}
    assert body["by_day"][-1] == {"day": utcnow().date().isoformat(), "credits": 3}
    assert client.get("/api/v1/credits/usage").status_code == 401
    # Only an owner token may change caps.
    resp = client.put(f"/api/v1/goals/{goal.id}/credit-cap", json={"credit_cap": 10},
                      headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403 and "detail" in resp.json()

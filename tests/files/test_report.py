"""Results to take away: upload → the specialist reads the file → the deliverable cites
it → the report (page, Markdown, API) carries it; each card downloads as Markdown."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.agents.conftest import wait_for_goal
from tests.factories import Tenant, csrf_from, login, make_tenant
from tests.files import samples
from web4os.accounts import tokens
from web4os.accounts.models import Role
from web4os.goals.models import GoalStatus
from web4os.goals.report import goal_report
from web4os.workers.embedded import EmbeddedRunner


def _finished_goal(client: TestClient, db: Session, tenant: Tenant,
                   runner: EmbeddedRunner) -> int:
    login(client, tenant.operator)
    token = csrf_from(client.get("/").text)
    resp = client.post("/goals", data={"csrf_token": token, "title": "Reprice the croissants"},
                       files={"files": ("prices.pdf", samples.pdf("Croissant costs 2 EUR"),
                                        "application/pdf")}, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    goal_id = int(resp.headers["location"].rsplit("/", 1)[1])
    goal = wait_for_goal(db, runner, goal_id, GoalStatus.COMPLETED, GoalStatus.FAILED)
    assert goal.status == GoalStatus.COMPLETED
    return goal_id


def test_from_upload_to_report(client: TestClient, db: Session, tenant: Tenant,
                               runner: EmbeddedRunner) -> None:
    goal_id = _finished_goal(client, db, tenant, runner)
    report = goal_report(db, tenant.id, goal_id)
    assert report.cards and all(c.files == ["prices.pdf"] for c in report.cards)

    assert f'href="/goals/{goal_id}/report"' in client.get(f"/goals/{goal_id}").text
    assert f'href="/goals/{goal_id}/report"' in client.get("/").text
    page = client.get(f"/goals/{goal_id}/report").text
    assert 'href="/static/print.css' in page and 'media="print"' in page
    assert "Summary" in page and "is complete." in page
    positions = [page.index(f">{n}. {c.title}<") for n, c in enumerate(report.cards, start=1)]
    assert positions == sorted(positions)  # plan order
    assert "files used: prices.pdf" in page and "Croissant costs 2 EUR" in page

    md = client.get(f"/goals/{goal_id}/report.md")
    assert md.status_code == 200
    assert md.headers["content-type"] == "text/markdown; charset=utf-8"
    assert md.headers["content-disposition"].startswith(
        'attachment; filename="reprice-the-croissants.md"')
    text = md.text
    assert text.startswith("# Reprice the croissants\n")
    assert text.index("## Summary") < text.index(f"## 1. {report.cards[0].title}")
    assert f"*By {report.cards[0].agent} · {report.cards[0].credits:,} credits · files used: " \
           "prices.pdf*" in text
    assert "Croissant costs 2 EUR" in text

    card = report.cards[0]
    one = client.get(f"/tasks/{card.id}/deliverable.md")
    assert one.headers["content-disposition"].startswith("attachment;")
    assert one.text.startswith(f"# {card.title}\n") and "**Files used:** prices.pdf" in one.text
    assert f'href="/tasks/{card.id}/deliverable.md"' in client.get(
        f"/goals/{goal_id}/tasks/{card.id}").text


def test_report_through_the_api_and_not_for_other_accounts(
        client: TestClient, db: Session, tenant: Tenant, runner: EmbeddedRunner) -> None:
    goal_id = _finished_goal(client, db, tenant, runner)
    viewer = tokens.create_token(db, tenant.ctx(), name="reader", role=Role.VIEWER).secret
    other = make_tenant(db, "Other")
    rival = tokens.create_token(db, other.ctx(), name="rival", role=Role.OWNER).secret
    db.commit()
    mine, theirs = ({"Authorization": f"Bearer {s}"} for s in (viewer, rival))
    body = client.get(f"/api/v1/goals/{goal_id}/report", headers=mine).json()
    assert body["finished"] is True and body["summary"]
    assert body["cards"] and body["cards"][0]["files_used"] == ["prices.pdf"]
    md = client.get(f"/api/v1/goals/{goal_id}/report.md", headers=mine)
    assert md.status_code == 200 and "## Summary" in md.text
    task_id = body["cards"][0]["task_id"]
    assert client.get(f"/api/v1/tasks/{task_id}/deliverable.md", headers=mine).status_code == 200
    for url in (f"/api/v1/goals/{goal_id}/report", f"/api/v1/goals/{goal_id}/report.md",
                f"/api/v1/tasks/{task_id}/deliverable.md"):
        assert client.get(url, headers=theirs).status_code == 404

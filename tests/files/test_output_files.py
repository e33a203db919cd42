"""Files a specialist hands over with its deliverable: stored as the card's, downloadable
from the card, listed in the report; a hostile name is made safe and a file that can't be
stored is left out with the reason, the deliverable kept either way."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.agents.conftest import endpoint, fake, wait_for_goal
from tests.factories import Tenant, login, make_goal, make_tenant
from tests.support.fake_openai import FakeOpenAI
from tests.tools.conftest import bearer
from web4os.files.models import StoredFile
from web4os.files.outputs import safe_name
from web4os.goals.models import Goal, GoalStatus, Task, TaskEvent, TaskStatus
from web4os.workers.embedded import EmbeddedRunner

__all__ = ["endpoint", "fake"]

CSV = "supplier,city,price\nBean Co,Lyon,12\nRoast & Sons,Paris,14\n"


def _one_card_goal(db: Session, runner: EmbeddedRunner, endpoint: FakeOpenAI, tenant: Tenant,
                   files: list[dict[str, str]]) -> Goal:
    goal = make_goal(db, tenant, "Find coffee suppliers")
    db.commit()
    endpoint.reply_json({"rationale": "One card.", "tasks": [{
        "key": "suppliers", "title": "List suppliers", "agent": "researcher",
        "instructions": "List them as a CSV.", "depends_on": [], "estimated_credits": 3}]})
    endpoint.reply_json({"deliverable": "## Suppliers\n\nTwo found; the table is attached.",
                         "note": "See the CSV.", "files": files})
    endpoint.reply_json({"verdict": "accept", "feedback": ""})
    endpoint.reply_json({"summary": "Suppliers listed."})
    runner.submit("plan_goal", {"goal_id": goal.id, "account_id": tenant.id})
    done = wait_for_goal(db, runner, goal.id)
    assert done.status == GoalStatus.COMPLETED, done.status_reason
    endpoint.assert_all_used()
    return done


def test_a_csv_from_the_specialist_downloads_from_the_card_and_is_in_the_report(
        endpoint: FakeOpenAI, runner: EmbeddedRunner, client: TestClient, db: Session,
        tenant: Tenant) -> None:
    other = make_tenant(db, "Rival")
    db.commit()
    theirs, ours = bearer(db, other), bearer(db, tenant)
    goal = _one_card_goal(db, runner, endpoint, tenant,
                          [{"name": "suppliers.csv", "content": CSV}])
    task_prompt = endpoint.chat_requests[1]["messages"][-1]["content"]
    assert '"files"' in task_prompt  # the specialist is told it may hand files over
    assert "files" in endpoint.chat_requests[1]["response_format"]["json_schema"]["schema"][
        "properties"]
    [task] = db.scalars(select(Task).where(Task.goal_id == goal.id))
    assert task.status == TaskStatus.DONE and "Two found" in task.output
    [row] = db.scalars(select(StoredFile).where(StoredFile.task_id == task.id))
    assert (row.name, row.kind, row.goal_id, row.account_id) == ("suppliers.csv", "csv", goal.id,
                                                                 tenant.id)

    login(client, tenant.viewer)
    card = client.get(f"/goals/{goal.id}/tasks/{task.id}")
    assert "Files made" in card.text and f'href="/files/{row.id}/download"' in card.text
    download = client.get(f"/files/{row.id}/download")
    assert download.status_code == 200 and download.text == CSV
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["content-type"].startswith("text/csv")
    report = client.get(f"/goals/{goal.id}/report")
    assert "Files made" in report.text and f"/files/{row.id}/download" in report.text
    markdown = client.get(f"/goals/{goal.id}/report.md").text
    assert "**Files made:** suppliers.csv" in markdown
    assert "**Files made:** suppliers.csv" in client.get(f"/tasks/{task.id}/deliverable.md").text
    api = client.get(f"/api/v1/goals/{goal.id}/report", headers=ours).json()
    assert api["cards"][0]["files_made"] == [{
        "id": row.id, "name": "suppliers.csv",
        "download_url": f"/api/v1/files/{row.id}/download"}]
    assert client.get(f"/api/v1/files/{row.id}/download", headers=theirs).status_code == 404


def test_hostile_names_are_made_safe_and_a_bad_file_is_left_out_not_the_deliverable(
        endpoint: FakeOpenAI, runner: EmbeddedRunner, client: TestClient, db: Session,
        tenant: Tenant) -> None:
    goal = _one_card_goal(db, runner, endpoint, tenant, [
        {"name": "../../etc/passwd", "content": "not a password file"},
        {"name": "re\x00port\x1b[31m.md", "content": "# Report\n"},
        {"name": "..", "content": "dots only"},
        {"name": "empty.csv", "content": ""},
        {"name": "extra.txt", "content": "one too many"}])
    [task] = db.scalars(select(Task).where(Task.goal_id == goal.id))
    assert task.status == TaskStatus.DONE and "Two found" in task.output
    rows = list(db.scalars(select(StoredFile).where(StoredFile.task_id == task.id)
                           .order_by(StoredFile.id)))
    assert [r.name for r in rows] == ["passwd.txt", "report[31m.md", "file-3.txt"]
    assert all("/" not in r.name and ".." not in r.name for r in rows)
    [event] = db.scalars(select(TaskEvent).where(TaskEvent.task_id == task.id,
                                                 TaskEvent.to_status == "needs_review"))
    assert event.data["output_files"] == ["passwd.txt", "report[31m.md", "file-3.txt"]
    refused = event.data["output_files_refused"]
    assert len(refused) == 2 and refused[0].startswith("empty.csv: ") and "empty" in refused[0]
    assert refused[1] == "extra.txt: only 3 files are kept per result."
    login(client, tenant.viewer)
    card = client.get(f"/goals/{goal.id}/tasks/{task.id}")
    assert "Files left out" in card.text and "passwd.txt" in card.text


def test_safe_names() -> None:
    assert safe_name("suppliers.csv", 1) == "suppliers.csv"
    assert safe_name("..\\..\\win.ini", 1) == "win.ini.txt"
    assert safe_name("plan.pdf", 2) == "plan.pdf.txt"  # the content is text, whatever the name
    assert safe_name("\u202enote.md", 1) == "note.md"  # no bidi override
    assert safe_name("   ", 4) == "file-4.txt"
    assert len(safe_name("x" * 500 + ".csv", 1)) <= 104

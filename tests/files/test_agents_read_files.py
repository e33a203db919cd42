"""Specialists read the goal's attachments and the relevant knowledge files, within the
model's window, and the card records which files its deliverable drew on."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.agents.test_tools_and_endpoints import Recording
from tests.factories import Tenant, make_planned_goal, make_tenant, plan_of
from tests.files import samples
from web4os.agents.budget import LEFT_OUT, Budget
from web4os.agents.prompts import AgentBrief, FileDoc, TaskContext, files_used, task_prompt
from web4os.agents.providers import set_provider_override
from web4os.files import service
from web4os.goals.models import Task, TaskEvent, TaskStatus
from web4os.workers.embedded import EmbeddedRunner


def test_the_specialists_prompt_carries_the_files_and_the_card_cites_them(
        db: Session, tenant: Tenant, runner: EmbeddedRunner) -> None:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", [])),
                             title="Reprice the croissants")
    service.upload(db, tenant.ctx(), name="prices.pdf", data=samples.pdf("Croissant costs 2 EUR"),
                   goal=goal)
    service.upload(db, tenant.ctx(), name="croissant recipe.docx",
                   data=samples.docx("Croissants need butter from Normandy"))
    service.upload(db, tenant.ctx(), name="logo.png", data=samples.PNG, goal=goal)
    other = make_tenant(db, "Rival")
    service.upload(db, other.ctx(), name="rival.txt", data=b"RIVAL croissant secret")
    db.commit()
    model = Recording()
    set_provider_override(model)
    runner.submit("advance_goal", {"goal_id": goal.id, "account_id": tenant.id})
    runner.wait_idle()
    db.rollback()
    [prompt] = [p for p in model.prompts if "TASK: Task a" in p and "DELIVERABLE" not in p]
    assert "--- FILE: prices.pdf (attached) ---\nCroissant costs 2 EUR" in prompt
    assert ("--- FILE: croissant recipe.docx (knowledge) ---\n"
            "Croissants need butter from Normandy") in prompt
    assert "- logo.png (image: not readable by this agent's model)" in prompt
    assert "RIVAL" not in "\n".join(model.prompts)
    task = db.scalars(select(Task).where(Task.goal_id == goal.id)).one()
    assert task.status == TaskStatus.DONE
    assert "### Files used" in task.output and "- prices.pdf: Croissant costs 2 EUR" in task.output
    [event] = db.scalars(select(TaskEvent).where(TaskEvent.task_id == task.id,
                                                 TaskEvent.to_status == "needs_review")).all()
    assert event.data["files"] == ["croissant recipe.docx", "prices.pdf"]


def test_files_are_trimmed_to_the_window_least_relevant_left_out_first() -> None:
    agent = AgentBrief(slug="writer", name="Writer", role="writes", instructions="")
    ctx = TaskContext(goal_title="Newsletter", goal_brief="", task_title="Draft",
                      instructions="Write it", files=[
                          FileDoc("old.txt", "knowledge", "old words " * 3000),
                          FileDoc("brief.pdf", "attached", "PRICE LIST " + "detail " * 3000)])
    roomy = task_prompt(agent, ctx, Budget(1_000_000, 3000, 800))
    assert files_used(ctx, roomy) == ["old.txt", "brief.pdf"]
    tight = task_prompt(agent, ctx, Budget(2500, 3000, 800))
    text = tight[-1]["content"]
    assert "PRICE LIST" in text and "[… shortened" in text
    assert Budget(2500, 3000, 800).prompt_tokens(tight) < 2500
    tiny = task_prompt(agent, ctx, Budget(430, 300, 100))  # room for one file's opening
    assert f"--- FILE: old.txt (knowledge) ---\n{LEFT_OUT}" in tiny[-1]["content"]
    assert files_used(ctx, tiny) == ["brief.pdf"]


def test_knowledge_files_are_chosen_by_relevance(db: Session, tenant: Tenant) -> None:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", [])))
    for n in range(6):
        service.upload(db, tenant.ctx(), name=f"misc {n}.txt", data=b"unrelated filler words")
    service.upload(db, tenant.ctx(), name="suppliers.csv", data=b"supplier,coffee\nBean Co,yes\n")
    service.upload(db, tenant.ctx(), name="scan.png", data=samples.PNG)
    chosen = service.files_for_agents(db, tenant.id, goal.id, "Find coffee supplier options")
    names = [f.name for f in chosen]
    assert len(names) == service.KNOWLEDGE_PER_CARD and names[-1] == "suppliers.csv"
    assert "scan.png" not in names

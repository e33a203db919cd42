"""Specialist tools stay inside their account and goal, are metered, and reach the
prompt; agent endpoints and keys follow the server's allow-list."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_planned_goal, make_tenant, plan_of, roster
from tests.support.fake_openai import FakeOpenAI
from web4os.agents import service as agents
from web4os.agents.models import Agent
from web4os.agents.notes import save_note
from web4os.agents.providers import (
    ModelError,
    ModelReply,
    ModelRequest,
    OfflineModel,
    provider_for,
    set_provider_override,
)
from web4os.agents.providers.openai_compat import OpenAICompatible
from web4os.agents.tools import ToolScope
from web4os.config import get_settings
from web4os.errors import InvalidInput
from web4os.goals.models import Task, TaskEvent, TaskStatus
from web4os.goals.statemachine import transition
from web4os.goals.tools import context_tools, run_tool
from web4os.tenancy import bind_account
from web4os.workers.embedded import EmbeddedRunner


class Recording:
    """The offline model, keeping every prompt it is sent."""

    label = "recording"
    offline = True

    def __init__(self) -> None:
        self.inner = OfflineModel()
        self.prompts: list[str] = []

    def complete(self, request: ModelRequest) -> ModelReply:
        self.prompts.append("\n".join(m["content"] for m in request.messages))
        return self.inner.complete(request)


def finish(db: Session, task: Task, output: str) -> None:
    for to in (TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.NEEDS_REVIEW, TaskStatus.DONE):
        transition(db, task, to, actor="test")
    task.output = output
    db.flush()


def two_goals(db: Session, tenant: Tenant) -> tuple[Tenant, list[Task], list[Task]]:
    """Tenant A's goal (a done, b planned) and tenant B's goal with a secret done output."""
    other = make_tenant(db, "Rival Bakery")
    mine = make_planned_goal(db, tenant, plan_of(("a", "researcher", []), ("b", "writer", []),
                                                 ("c", "analyst", ["a"])))
    theirs = make_planned_goal(db, other, plan_of(("x", "researcher", [])), title="Secret")
    bind_account(db, tenant.id)
    a, b, c = sorted(mine.tasks, key=lambda t: t.position)
    finish(db, b, "Our sibling result")
    bind_account(db, other.id)
    [x] = theirs.tasks
    finish(db, x, "RIVAL SECRET PRICES")
    save_note(db, other.ctx(), title="Rival note", body="RIVAL SECRET SUPPLIER")
    bind_account(db, tenant.id)
    save_note(db, tenant.ctx(), title="Opening hours", body="We open at 7am, closed Mondays.")
    db.commit()
    return other, [a, b, c], [x]


def test_tools_never_reach_another_account(db: Session, tenant: Tenant) -> None:
    other, (a, _b, _c), (x,) = two_goals(db, tenant)
    bind_account(db, other.id)  # (on Postgres, RLS hides B's rows from a session bound to A)
    their_goal = x.goal_id
    db.rollback()
    bind_account(db, tenant.id)
    # Even handed the other account's goal and task ids, a scope of tenant A finds nothing.
    forged = ToolScope(account_id=tenant.id, goal_id=their_goal, task_id=a.id)
    assert run_tool(db, forged, "read_goal_outputs").result.lines == []
    for args in ({}, {"query": "RIVAL"}, {"query": "SECRET"}):
        lines = run_tool(db, forged, "notes", args).result.lines
        assert not any("RIVAL" in line for line in lines)
    run = run_tool(db, forged, "read_goal_outputs", {"task_key": "x"})
    assert run.result.items == 0 and run.credits == 0  # an empty result is free


def test_tools_read_the_same_goal_and_are_metered(db: Session, tenant: Tenant) -> None:
    _other, (a, _b, c), _ = two_goals(db, tenant)
    bind_account(db, tenant.id)
    scope = ToolScope(account_id=tenant.id, goal_id=c.goal_id, task_id=c.id,
                      skip_task_ids=frozenset({a.id}))
    runs = {r.tool: r for r in context_tools(db, scope, ["read_goal_outputs", "notes", "nope"])}
    assert set(runs) == {"read_goal_outputs", "notes"}  # unknown tools are skipped
    assert runs["read_goal_outputs"].result.lines == [
        "--- DOC: Task b (by Writer) ---\nOur sibling result"]
    assert runs["notes"].result.lines == ["Opening hours: We open at 7am, closed Mondays."]
    assert all(r.credits == get_settings().credits_per_tool_run for r in runs.values())
    with pytest.raises(InvalidInput):
        run_tool(db, scope, "delete_everything")


def test_a_specialist_gets_tool_results_in_its_prompt_and_pays_for_them(
    db: Session, tenant: Tenant, runner: EmbeddedRunner,
) -> None:
    _other, (a, _b, c), _ = two_goals(db, tenant)
    finish_a = db.get(Task, a.id)
    assert finish_a is not None
    bind_account(db, tenant.id)
    finish(db, finish_a, "Input from a")
    db.commit()
    model = Recording()
    set_provider_override(model)
    runner.submit("advance_goal", {"goal_id": c.goal_id, "account_id": tenant.id})
    runner.wait_idle()
    db.rollback()
    [task_prompt] = [p for p in model.prompts if "TASK: Task c" in p and "DELIVERABLE" not in p]
    assert "INPUTS:\n--- DOC: Task a (by Researcher) ---\nInput from a" in task_prompt
    assert "CONTEXT: Other results already delivered" in task_prompt
    assert "Our sibling result" in task_prompt
    assert "NOTES:\n- Opening hours: We open at 7am" in task_prompt
    assert "RIVAL" not in "\n".join(model.prompts)
    runs = db.scalars(select(TaskEvent).where(TaskEvent.task_id == c.id,
                                              TaskEvent.kind == "tool_run")).all()
    assert sorted(e.data["tool"] for e in runs) == ["notes", "read_goal_outputs"]
    calls = db.scalars(select(TaskEvent).where(TaskEvent.task_id == c.id,
                                               TaskEvent.kind == "model_call")).all()
    task = db.get(Task, c.id)
    assert task is not None
    assert task.actual_credits == (sum(int(e.data["credits"]) for e in calls)
                                   + sum(int(e.data["credits"]) for e in runs))


def test_an_agent_without_tools_gets_no_notes(db: Session, tenant: Tenant,
                                              runner: EmbeddedRunner) -> None:
    _other, (_a, _b, c), _ = two_goals(db, tenant)
    bind_account(db, tenant.id)
    analyst = roster(db, tenant)["analyst"]
    agents.update_agent(db, tenant.id, analyst.id, name=analyst.name, role=analyst.role,
                        instructions="", model="", base_url="", enabled=True, tools=[])
    db.commit()
    model = Recording()
    set_provider_override(model)
    runner.submit("advance_goal", {"goal_id": c.goal_id, "account_id": tenant.id})
    runner.wait_idle()
    prompt = next(p for p in model.prompts if "TASK: Task c" in p)
    assert "Opening hours" not in prompt and "Our sibling result" not in prompt


# --- endpoints and keys ---------------------------------------------------------------

def agent(base_url: str = "", model: str = "") -> Agent:
    return Agent(slug="writer", name="Writer", role="Writes", base_url=base_url, model=model)


def test_the_global_key_never_goes_to_an_agents_own_endpoint(
    fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEB4OS_OPENAI_API_KEY", "sk-global-secret")
    get_settings.cache_clear()
    p = provider_for(agent(fake.base_url))
    with pytest.raises(ModelError) as info:
        p.complete(ModelRequest([{"role": "user", "content": "hi"}], "task"))
    assert "WEB4OS_MODEL_ENDPOINTS" in str(info.value) and not info.value.retryable
    assert fake.requests == []  # nothing was sent

    monkeypatch.setenv("WEB4OS_MODEL_ENDPOINTS", f'{{"{fake.base_url}/": "WRITER_KEY"}}')
    monkeypatch.setenv("WRITER_KEY", "sk-writer")
    get_settings.cache_clear()
    fake.reply("hello")
    p = provider_for(agent(fake.base_url, model="llama3.1:8b"))
    assert isinstance(p, OpenAICompatible)
    p.complete(ModelRequest([{"role": "user", "content": "hi"}], "task"))
    assert fake.last_request["headers"]["authorization"] == "Bearer sk-writer"
    assert fake.last_request["model"] == "llama3.1:8b"


def test_agent_forms_refuse_endpoints_the_server_does_not_allow(
    db: Session, tenant: Tenant, monkeypatch: pytest.MonkeyPatch,
) -> None:
    bind_account(db, tenant.id)
    with pytest.raises(InvalidInput) as info:
        agents.create_agent(db, tenant.id, slug="harvester", name="H", role="Collects keys",
                            base_url="http://attacker.example/v1")
    assert info.value.field == "base_url"
    monkeypatch.setenv("WEB4OS_MODEL_ENDPOINTS", '{"http://localhost:11434/v1": ""}')
    get_settings.cache_clear()
    made = agents.create_agent(db, tenant.id, slug="local", name="Local", role="Runs locally",
                               base_url="http://localhost:11434/v1", model="llama3.1")
    assert made.base_url == "http://localhost:11434/v1"


def test_no_endpoint_configured_means_the_offline_model() -> None:
    assert isinstance(provider_for(agent(model="gpt-4o")), OfflineModel)

"""A goal's images reach a specialist's model only where it reads images
(``WEB4OS_MODEL_IMAGES``): as image parts, bounded in number and size and counted in the
prompt's budget; elsewhere they are named in FILES with why the model does not see them."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.agents.conftest import endpoint, fake, wait_for_goal
from tests.factories import Tenant, make_goal
from tests.files import samples
from tests.support.fake_openai import FakeOpenAI
from web4os.agents.budget import IMAGE_TOKENS, Budget, message_tokens
from web4os.agents.models import Agent
from web4os.agents.prompts import AgentBrief, ImageDoc, TaskContext, task_prompt
from web4os.agents.providers import reads_images
from web4os.config import Settings, get_settings
from web4os.files import service
from web4os.files.images import IMAGE_BYTES, MAX_IMAGES
from web4os.goals.models import GoalStatus
from web4os.workers.embedded import EmbeddedRunner

__all__ = ["endpoint", "fake"]

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"\x00" * 40


def _reads_images(monkeypatch: pytest.MonkeyPatch, listed: str) -> None:
    monkeypatch.setenv("WEB4OS_MODEL_IMAGES", json.dumps([listed]))
    monkeypatch.setenv("WEB4OS_MODEL_CONTEXT_TOKENS", "32768")
    get_settings.cache_clear()


def _task_request(db: Session, runner: EmbeddedRunner, endpoint: FakeOpenAI, tenant: Tenant,
                  images: list[tuple[str, bytes]]) -> dict[str, Any]:
    """Run a one-card goal with ``images`` attached; the specialist's recorded request."""
    goal = make_goal(db, tenant, "Redesign the shop sign")
    for name, data in images:
        service.upload(db, tenant.ctx(), name=name, data=data, goal=goal)
    db.commit()
    endpoint.reply_json({"rationale": "One card.", "tasks": [{
        "key": "sign", "title": "Describe the sign", "agent": "researcher",
        "instructions": "Say what the sign shows.", "depends_on": [], "estimated_credits": 3}]})
    endpoint.reply_json({"deliverable": "## The sign\n\nA croissant on blue.", "note": "Done.",
                         "files": []})
    endpoint.reply_json({"verdict": "accept", "feedback": ""})
    endpoint.reply_json({"summary": "Described."})
    runner.submit("plan_goal", {"goal_id": goal.id, "account_id": tenant.id})
    done = wait_for_goal(db, runner, goal.id)
    assert done.status == GoalStatus.COMPLETED, done.status_reason
    endpoint.assert_all_used()
    plan, task, review, summary = endpoint.chat_requests
    assert "image_url" not in json.dumps([plan, review, summary])  # the specialist's only
    return task


def _parts(request: dict[str, Any]) -> tuple[str, list[str]]:
    """The user message's text and its image URLs."""
    content = request["messages"][-1]["content"]
    if isinstance(content, str):
        return content, []
    text = "\n".join(p["text"] for p in content if p["type"] == "text")
    return text, [p["image_url"]["url"] for p in content if p["type"] == "image_url"]


def test_a_model_that_reads_images_gets_the_goals_images_as_image_parts(
        endpoint: FakeOpenAI, runner: EmbeddedRunner, db: Session, tenant: Tenant,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _reads_images(monkeypatch, "fake-model")
    text, urls = _parts(_task_request(db, runner, endpoint, tenant,
                                      [("sign.png", samples.PNG), ("shop.jpg", JPEG)]))
    assert urls == [f"data:image/png;base64,{base64.b64encode(samples.PNG).decode()}",
                    f"data:image/jpeg;base64,{base64.b64encode(JPEG).decode()}"]
    assert "- sign.png (image 1 after this text)" in text
    assert "- shop.jpg (image 2 after this text)" in text


def test_a_text_only_model_gets_the_images_names_and_why(
        endpoint: FakeOpenAI, runner: EmbeddedRunner, db: Session, tenant: Tenant) -> None:
    request = _task_request(db, runner, endpoint, tenant, [("sign.png", samples.PNG)])
    text, urls = _parts(request)
    assert urls == [] and isinstance(request["messages"][-1]["content"], str)
    assert "- sign.png (image: not readable by this agent's model)" in text


def test_too_large_or_too_many_images_are_named_only(
        endpoint: FakeOpenAI, runner: EmbeddedRunner, db: Session, tenant: Tenant,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _reads_images(monkeypatch, endpoint.base_url + "/")  # listed by endpoint, not model
    big = samples.PNG + b"\x00" * IMAGE_BYTES
    small = [(f"photo {n}.png", samples.PNG) for n in range(MAX_IMAGES + 1)]
    text, urls = _parts(_task_request(db, runner, endpoint, tenant,
                                      [("poster.png", big), *small]))
    assert len(urls) == MAX_IMAGES
    assert "- poster.png (image: larger than the 1 MB an image may be for the model)" in text
    assert "- photo 0.png (image 1 after this text)" in text
    assert (f"- photo {MAX_IMAGES}.png (image: the model is shown the first {MAX_IMAGES} "
            "images only)") in text


def test_images_count_toward_the_budget_and_are_left_out_when_the_window_is_small() -> None:
    agent = AgentBrief(slug="writer", name="Writer", role="writes", instructions="")
    url = "data:image/png;base64," + "A" * 40_000
    ctx = TaskContext(goal_title="Sign", goal_brief="", task_title="Describe",
                      instructions="Look",
                      images=[ImageDoc("a.png", url), ImageDoc("b.png", url)])
    roomy = task_prompt(agent, ctx, Budget(32_768, 3000, 800))
    assert sum(p["type"] == "image_url" for p in roomy[-1]["content"]) == 2
    text_only = message_tokens([{"content": roomy[-1]["content"][0]["text"]}])
    assert message_tokens(roomy[-1:]) == text_only + 2 * IMAGE_TOKENS  # not the base64 text
    small = task_prompt(agent, ctx, Budget(5000, 3000, 800))  # room for one image
    assert [p["type"] for p in small[-1]["content"]] == ["text", "image_url"]
    assert "- b.png (image: left out to fit the model's context window)" in (
        small[-1]["content"][0]["text"])
    tiny = task_prompt(agent, ctx, Budget(2048, 300, 100))
    assert isinstance(tiny[-1]["content"], str) and "- a.png (image: left out" in (
        tiny[-1]["content"])


def test_which_agents_read_images() -> None:
    settings = Settings(openai_base_url="http://127.0.0.1:9/v1", openai_model="gemma",
                        model_endpoints={"http://127.0.0.1:8/v1": ""},
                        model_images=["gpt-4o", "http://127.0.0.1:8/v1"])
    assert not reads_images(Agent(slug="a", model="", base_url=""), settings)
    assert reads_images(Agent(slug="a", model="gpt-4o", base_url=""), settings)
    assert reads_images(Agent(slug="a", model="", base_url="http://127.0.0.1:8/v1/"), settings)
    assert not reads_images(Agent(slug="a", model="gpt-4o", base_url="http://10.0.0.1/v1"),
                            settings)  # not an allowed endpoint
    offline = Settings(openai_base_url="", openai_api_key="", model_images=["gpt-4o"])
    assert not reads_images(Agent(slug="a", model="gpt-4o", base_url=""), offline)

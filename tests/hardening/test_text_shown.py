"""Hostile characters, the cases of the outside probe: the API answers 422 naming the field
(never a 500), a form comes back with the reason beside the field and the rest of the
input kept, and text that holds direction controls anyway is shown isolated."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import Tenant, csrf_from, login, make_card_in_review
from web4os.accounts.models import Role
from web4os.accounts.tokens import create_token
from web4os.agents.models import Agent
from web4os.goals.models import Goal
from web4os.tenancy import bind_account
from web4os.text import TextRefused, check_form, isolated

FSI, PDI, RLO = "\u2068", "\u2069", "\u202e"


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/goals", {"title": "a\ud800b"}, "title"),
    ("/api/v1/goals", {"title": "ok", "brief": "\ud83d"}, "brief"),
    ("/api/v1/tasks/{task}/reject", {"feedback": "x\ud800y"}, "feedback"),
    ("/api/v1/tasks/{task}/edit", {"title": "x\udfffy", "instructions": "do it"}, "title"),
])
def test_a_lone_surrogate_is_a_422_naming_the_field(client: TestClient, db: Session,
                                                    tenant: Tenant, path: str,
                                                    body: dict[str, str], field: str) -> None:
    task = make_card_in_review(db, tenant, "A draft")
    bind_account(db, tenant.id)
    secret = create_token(db, tenant.ctx(), name="t", role=Role.OWNER).secret
    db.commit()
    goals = db.scalar(select(func.count()).select_from(Goal))
    resp = client.post(path.format(task=task.id), content=json.dumps(body),
                       headers={"Authorization": f"Bearer {secret}",
                                "Content-Type": "application/json"})
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"].startswith(f"{field}: This text has a broken character")
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Goal)) == goals


def test_a_form_shows_the_reason_beside_the_field_and_keeps_the_input(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    login(client, tenant.owner)
    token = csrf_from(client.get("/").text)
    resp = client.post("/goals", data={"csrf_token": token, "title": "Spring sale",
                                       "brief": f"Flowers {RLO}and plants"})
    assert resp.status_code == 400
    beside = re.search(r'<p class="error" id="e-brief">([^<]*)</p>', resp.text)
    assert beside and "hidden text-direction control (U+202E)" in beside.group(1)
    assert "the field “brief” is refused" in resp.text
    assert 'value="Spring sale"' in resp.text
    assert db.scalar(select(func.count()).select_from(Goal)) == 0


@pytest.mark.parametrize("value", ["a\x00b", "a\x1bb", "a\u202ab", "a\u2066b", "a\ud800b"])
def test_the_rule_refuses_controls_and_broken_text(value: str) -> None:
    with pytest.raises(TextRefused) as err:
        check_form({"name": "fine", "role": value})
    assert err.value.field == "role"


def test_the_rule_keeps_ordinary_text() -> None:
    check_form({"brief": "Line one\r\n\tLine two — مرحبا, שלום, 日本語 \u200f ok"})


@pytest.mark.parametrize(("text", "shown"), [
    ("plain", "plain"),
    (f"abc{RLO}def", f"{FSI}abc{RLO}def{PDI}"),
    ("\u2067open", f"{FSI}\u2067open{PDI}{PDI}"),  # the isolate it opens is closed too
    (f"{PDI}{RLO}x", f"{FSI}{FSI}{PDI}{RLO}x{PDI}"),  # a stray PDI can't end ours early
])
def test_text_with_direction_controls_is_isolated(text: str, shown: str) -> None:
    assert isolated(text) == shown


def test_stored_direction_controls_are_isolated_on_the_page(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    """Text stored before the rule, or written by a model, can't reorder what follows it."""
    task = make_card_in_review(db, tenant, "A draft")
    task.goal.title = f"Sale {RLO}gnirps"
    task.note = f"Model note {RLO}reversed"
    agent = db.scalars(select(Agent).where(Agent.id == task.agent_id)).one()
    agent.name = f"Writer{RLO}"
    db.commit()
    login(client, tenant.owner)
    home = client.get("/").text
    card = client.get(f"/goals/{task.goal_id}/tasks/{task.id}").text
    assert f"{FSI}Sale {RLO}gnirps{PDI}" in home
    assert f"{FSI}Model note {RLO}reversed{PDI}" in card
    assert f"{FSI}Writer{RLO}{PDI}" in card
    for page in (home, card):  # no override is shown outside an isolate
        assert page.count(RLO) == len(re.findall(f"{FSI}[^{PDI}]*{RLO}[^{PDI}]*{PDI}", page))

"""Export and import: the round trip, secrets never written, collision policies, a preview
that writes nothing, all-or-nothing imports and paused routines."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_tenant
from web4os.agents import notes
from web4os.agents import service as agents
from web4os.agents.models import Agent, Note
from web4os.files.models import StoredFile
from web4os.playbooks import export, loader, service
from web4os.playbooks.loader import PlaybookInvalid
from web4os.playbooks.plan import OnCollision
from web4os.routines.models import Routine, RoutineStatus
from web4os.tools.models import AgentToolPolicy, McpServer
from web4os.webhooks.models import WebhookEndpoint

SECRETS = ("very-secret-crm-key", "whsec_", "EXAMPLE_KEY")


def _counts(db: Session, t: Tenant) -> dict[str, int]:
    tables = (Agent, Note, StoredFile, Routine, McpServer, AgentToolPolicy, WebhookEndpoint)
    return {m.__name__: db.scalar(select(func.count()).select_from(m).where(
        m.account_id == t.id)) or 0 for m in tables}


def test_round_trip_gives_the_same_document_and_no_secret(db: Session,
                                                          full_tenant: Tenant) -> None:
    first = export.export_text(db, full_tenant.id, files_choice="embed")
    fresh = make_tenant(db, "Rosie's Bakery")
    db.commit()
    result = service.import_playbook(db, fresh.ctx(), first, OnCollision.REPLACE)
    db.commit()
    second = export.export_text(db, fresh.id, files_choice="embed")
    assert second == first
    for text in (first, second):
        assert not any(s in text for s in SECRETS)
    assert "MCP server crm: credentials (X-Api-Key header)" in result.to_fill_in
    assert any(line.startswith("agent Head Baker: API key for https://models.example.test/v1")
               for line in result.to_fill_in)
    assert any("webhook https://hooks.example.test/in: a new signing secret" in line
               for line in result.to_fill_in)
    assert list(result.new_secrets) == ["https://hooks.example.test/in"]
    doc = yaml.safe_load(first)
    assert doc["playbook"] == 1 and doc["to_fill_in"]
    baker = next(a for a in doc["roster"] if a["handle"] == "baker")
    assert baker["tool_policies"] == {"crm.find_customer": "ask", "web4os.web_fetch": "allowed"}
    assert (baker["credit_cap"], baker["monthly_budget"]) == (250, 900)
    assert doc["templates"] == [{"name": "Market flyer", "title": "Draft the market-day flyer",
                                 "brief": "Prices from the list.", "require_approval": True,
                                 "credit_cap": 120, "attachments": ["prices.txt"]}]
    flyer = next(r for r in doc["routines"] if r["title"] == "Flyer every Friday")
    assert flyer["template"] == "Market flyer" and flyer["cron"] == "0 7 * * 5"


def test_imported_routines_start_paused(db: Session, full_tenant: Tenant) -> None:
    text = export.export_text(db, full_tenant.id)
    fresh = make_tenant(db)
    db.commit()
    service.import_playbook(db, fresh.ctx(), text, OnCollision.RENAME)
    db.commit()
    made = db.scalars(select(Routine).where(Routine.account_id == fresh.id)).all()
    assert sorted((r.title, r.status, r.next_run_at) for r in made) == [
        ("Flyer every Friday", RoutineStatus.PAUSED, None),
        ("Weekly specials", RoutineStatus.PAUSED, None)]


def test_a_file_by_reference_is_listed_to_upload(db: Session, full_tenant: Tenant) -> None:
    text = export.export_text(db, full_tenant.id, files_choice="reference")
    assert "content_base64" not in text
    fresh = make_tenant(db)
    db.commit()
    plan = service.import_playbook(db, fresh.ctx(), text, OnCollision.RENAME)
    assert any(line.startswith("file prices.txt: upload it") for line in plan.to_fill_in)
    assert "template Market flyer: attach “prices.txt” once it is uploaded" in plan.to_fill_in
    assert _counts(db, fresh)["StoredFile"] == 0


def test_preview_writes_nothing(db: Session, full_tenant: Tenant) -> None:
    text = export.export_text(db, full_tenant.id, files_choice="embed")
    fresh = make_tenant(db)
    db.commit()
    before = _counts(db, fresh)
    plan = service.preview(db, fresh.ctx(), text, OnCollision.RENAME)
    db.commit()
    assert _counts(db, fresh) == before and not plan.applied
    created = {s.section: [i.name for i in s.create] for s in plan.sections}
    assert created["roster"] == ["Head Baker"] and created["notes"] == ["Opening hours"]
    assert created["files"] == ["prices.txt"] and created["webhooks"]


@pytest.mark.parametrize(("policy", "names", "body"), [
    (OnCollision.RENAME, {"Writer", "Writer (2)"}, "old"),
    (OnCollision.SKIP, {"Writer"}, "old"),
    (OnCollision.REPLACE, {"Writer"}, "new"),
])
def test_collision_policies(db: Session, tenant: Tenant, policy: OnCollision,
                            names: set[str], body: str) -> None:
    notes.save_note(db, tenant.ctx(), title="Hours", body="old")
    db.commit()
    text = ("playbook: 1\nroster:\n  - handle: writer\n    name: Writer\n    role: Writes new "
            "copy\n    instructions: Be brief.\nnotes:\n  - title: Hours\n    body: new\n")
    plan = service.import_playbook(db, tenant.ctx(), text, policy)
    db.commit()
    writers = {a.name for a in agents.list_agents(db, tenant.id) if a.name.startswith("Writer")}
    assert writers == names
    hours = sorted(n.body for n in notes.list_notes(db, tenant.id))
    assert hours == (["new", "old"] if policy == OnCollision.RENAME else [body])
    if policy == OnCollision.RENAME:
        roster = next(s for s in plan.sections if s.section == "roster")
        assert [(i.name, i.detail) for i in roster.create] == [("Writer (2)",
                                                                "renamed from Writer")]
        assert {a.slug for a in agents.list_agents(db, tenant.id)} >= {"writer", "writer-2"}


def test_an_import_failing_midway_leaves_nothing(db: Session, full_tenant: Tenant,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    text = export.export_text(db, full_tenant.id, files_choice="embed")
    fresh = make_tenant(db)
    db.commit()
    before = _counts(db, fresh)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr("web4os.routines.service.pause", broken)  # after agents, notes, files
    with pytest.raises(RuntimeError):
        service.import_playbook(db, fresh.ctx(), text, OnCollision.RENAME)
    db.commit()
    assert _counts(db, fresh) == before


def test_a_refusal_found_while_writing_rolls_everything_back(
        db: Session, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    from web4os.errors import InvalidInput

    def refused(*args: object, **kwargs: object) -> None:
        raise InvalidInput("Keep a note under 20,000 characters.", field="body")

    text = ("playbook: 1\nroster:\n  - handle: poet\n    name: Poet\n    role: Writes poems\n"
            "notes:\n  - title: Style\n    body: Short.\n")
    before = _counts(db, tenant)
    monkeypatch.setattr("web4os.agents.notes.save_note", refused)
    with pytest.raises(PlaybookInvalid, match="notes"):
        service.import_playbook(db, tenant.ctx(), text, OnCollision.RENAME)
    db.commit()
    assert _counts(db, tenant) == before


def test_a_roster_of_the_default_team_changes_nothing(db: Session, tenant: Tenant) -> None:
    text = export.export_text(db, tenant.id)
    plan = service.preview(db, tenant.ctx(), text, OnCollision.REPLACE)
    roster = next(s for s in plan.sections if s.section == "roster")
    assert not roster.create and not roster.change and len(roster.skip) == 6
    skipped = service.preview(db, tenant.ctx(), text, OnCollision.SKIP)
    assert not any(s.create or s.change for s in skipped.sections)


def test_a_renamed_file_is_the_one_its_template_attaches(db: Session, tenant: Tenant) -> None:
    from web4os.files import service as files
    from web4os.goaltemplates import service as templates

    files.store(db, tenant.id, name="menu.txt", data=b"old menu", goal_id=None)
    db.commit()
    text = export.dump(loader.load(
        "playbook: 1\nfiles:\n  - name: menu.txt\n    size: 8\n    sha256: "
        "6d5ad2ba9a0a0f0b3e7bd6ae0fbb76e85daa4b0c8c5cd6dfd4c9b5b1f7f4ba62\n"
        "templates:\n  - name: Menu card\n    title: Print the menu\n"
        "    attachments: [menu.txt]\n").playbook)
    with pytest.raises(PlaybookInvalid):  # the sha256 does not match: refused, not imported
        service.import_playbook(db, tenant.ctx(), text.replace(
            "sha256:", "content_base64: bmV3IG1lbnUh\n  sha256:"), OnCollision.RENAME)
    import base64
    import hashlib
    data = b"new menu"
    good = (f"playbook: 1\nfiles:\n  - name: menu.txt\n    size: {len(data)}\n"
            f"    sha256: {hashlib.sha256(data).hexdigest()}\n"
            f"    content_base64: {base64.b64encode(data).decode()}\n"
            "templates:\n  - name: Menu card\n    title: Print the menu\n"
            "    attachments: [menu.txt]\nroutines:\n  - title: Menu monthly\n"
            "    template: Menu card\n    preset: monthly\n")
    service.import_playbook(db, tenant.ctx(), good, OnCollision.RENAME)
    db.commit()
    card = templates.find_by_name(db, tenant.id, "Menu card")
    assert card is not None
    assert [f.name for f in templates.attached_files(db, tenant.id, card)] == ["menu (2).txt"]
    routine = db.scalars(select(Routine).where(Routine.account_id == tenant.id)).one()
    assert routine.template_id == card.id and routine.status == RoutineStatus.PAUSED

"""/agents and /notes: who may change what, forms that re-render with errors and keep
input, and no reach into another account."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import Tenant, csrf_from, login, make_tenant, roster
from web4os.agents import service as agents
from web4os.agents.notes import list_notes, save_note
from web4os.tenancy import bind_account


def test_everyone_reads_the_roster_but_only_owners_change_it(
    client: TestClient, tenant: Tenant, db: Session,
) -> None:
    for user in (tenant.viewer, tenant.operator):
        login(client, user)
        page = client.get("/agents")
        assert page.status_code == 200
        assert "Researcher" in page.text and "Operations" in page.text
        assert "Add a specialist" not in page.text and "Only account owners" in page.text
        resp = client.post("/agents", data={"slug": "x", "name": "X", "role": "Y",
                                            "csrf_token": csrf_from(page.text)})
        assert resp.status_code == 403
        writer = roster(db, tenant)["writer"]
        resp = client.post(f"/agents/{writer.id}/disable",
                           data={"csrf_token": csrf_from(page.text)})
        assert resp.status_code == 403
    db.rollback()
    assert roster(db, tenant)["writer"].enabled


def test_an_owner_adds_an_agent_and_mistakes_rerender_the_form(
    client: TestClient, tenant: Tenant, db: Session,
) -> None:
    login(client, tenant.owner)
    page = client.get("/agents")
    assert "Add a specialist" in page.text
    token = csrf_from(page.text)
    bad = client.post("/agents", data={"slug": "Bad Handle!", "name": "Designer",
                                       "role": "Designs flyers", "instructions": "keep me",
                                       "csrf_token": token})
    assert bad.status_code == 400
    assert "Use lower-case letters" in bad.text
    assert 'value="Designer"' in bad.text and "keep me" in bad.text
    taken = client.post("/agents", data={"slug": "writer", "name": "W2", "role": "Writes",
                                         "csrf_token": token})
    assert taken.status_code == 400 and "already exists" in taken.text
    ok = client.post("/agents", data={"slug": "designer", "name": "Designer",
                                      "role": "Designs flyers", "tools": "notes",
                                      "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303
    db.rollback()
    designer = roster(db, tenant)["designer"]
    assert designer.tools == ["notes"] and designer.enabled
    assert "Designer" in client.get("/agents").text


def test_an_owner_edits_disables_and_cannot_disable_the_ceo(
    client: TestClient, tenant: Tenant, db: Session,
) -> None:
    login(client, tenant.owner)
    team = roster(db, tenant)
    page = client.get(f"/agents/{team['writer'].id}")
    assert page.status_code == 200 and 'name="model"' in page.text
    token = csrf_from(page.text)
    form = {"name": "Writer", "role": "Writes copy", "instructions": "Short sentences.",
            "model": "llama3.1:8b", "base_url": "", "enabled": "on",
            "tools": ["read_goal_outputs"], "csrf_token": token}
    assert client.post(f"/agents/{team['writer'].id}", data=form,
                       follow_redirects=False).status_code == 303
    bad = client.post(f"/agents/{team['writer'].id}",
                      data={**form, "model": "gpt-4o", "base_url": "http://evil.example/v1"})
    assert bad.status_code == 400
    assert "allow that endpoint" in bad.text and "http://evil.example/v1" in bad.text
    db.rollback()
    writer = agents.get_agent(db, tenant.id, team["writer"].id)
    assert (writer.model, writer.base_url, writer.tools) == ("llama3.1:8b", "",
                                                             ["read_goal_outputs"])

    ceo = client.post(f"/agents/{team['ceo'].id}",
                      data={"name": "CEO", "role": "Plans", "csrf_token": token})
    assert ceo.status_code == 400 and "cannot be disabled" in ceo.text

    client.post(f"/agents/{team['writer'].id}/disable", data={"csrf_token": token})
    db.rollback()
    assert not agents.get_agent(db, tenant.id, team["writer"].id).enabled
    assert "writer" not in {a.slug for a in agents.specialists(db, tenant.id)}


def test_agents_and_notes_of_another_account_are_not_found(
    client: TestClient, tenant: Tenant, db: Session,
) -> None:
    other = make_tenant(db, "Rival")
    bind_account(db, other.id)
    note = save_note(db, other.ctx(), title="Rival secret", body="x")
    db.commit()
    their_writer = roster(db, other)["writer"]
    login(client, tenant.owner)
    token = csrf_from(client.get("/agents").text)
    assert client.get(f"/agents/{their_writer.id}").status_code == 404
    assert client.post(f"/agents/{their_writer.id}/disable",
                       data={"csrf_token": token}).status_code == 404
    assert client.get(f"/notes?edit={note.id}").status_code == 404
    assert client.post(f"/notes/{note.id}/delete", data={"csrf_token": token}).status_code == 404
    assert client.post("/notes", data={"note_id": str(note.id), "title": "Mine now", "body": "",
                                       "csrf_token": token}).status_code == 404
    db.rollback()
    assert roster(db, other)["writer"].enabled
    assert [n.title for n in list_notes(db, other.id)] == ["Rival secret"]
    assert "Rival secret" not in client.get("/notes").text


def test_operators_keep_notes_and_viewers_read_them(
    client: TestClient, tenant: Tenant, db: Session,
) -> None:
    login(client, tenant.operator)
    page = client.get("/notes")
    assert "No notes yet" in page.text
    token = csrf_from(page.text)
    bad = client.post("/notes", data={"title": " ", "body": "We open at 7am", "csrf_token": token})
    assert bad.status_code == 400
    assert "Give the note a title" in bad.text and "We open at 7am" in bad.text
    ok = client.post("/notes", data={"title": "Opening hours", "body": "We open at 7am",
                                     "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303
    db.rollback()
    [note] = list_notes(db, tenant.id)
    edit = client.get(f"/notes?edit={note.id}")
    assert "Edit note" in edit.text and "We open at 7am" in edit.text
    client.post("/notes", data={"note_id": str(note.id), "title": "Opening hours",
                                "body": "We open at 8am", "csrf_token": token})

    login(client, tenant.viewer)
    page = client.get("/notes")
    assert "We open at 8am" in page.text and "Add a note" not in page.text
    assert client.post("/notes", data={"title": "Nope", "body": "",
                                       "csrf_token": csrf_from(page.text)}).status_code == 403
    assert client.post(f"/notes/{note.id}/delete",
                       data={"csrf_token": csrf_from(page.text)}).status_code == 403

    login(client, tenant.owner)
    page = client.get("/notes")
    client.post(f"/notes/{note.id}/delete", data={"csrf_token": csrf_from(page.text)})
    db.rollback()
    assert list_notes(db, tenant.id) == []

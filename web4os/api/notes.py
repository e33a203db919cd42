"""JSON API for knowledge notes: everyone reads them, operators and owners keep them.
The same service and messages as the /notes page."""

from __future__ import annotations

from datetime import datetime

from fastapi import Response
from pydantic import BaseModel, ConfigDict

from web4os.agents import notes
from web4os.api.deps import ApiOperator, ApiReader
from web4os.api.openapi import api_router
from web4os.text import Text
from web4os.web.deps import SessionDep

router = api_router("notes")


class NoteIn(BaseModel):
    title: Text
    body: Text = ""


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    body: str
    created_at: datetime
    updated_at: datetime


@router.get("/notes")
def list_notes(session: SessionDep, ctx: ApiReader) -> list[NoteOut]:
    return [NoteOut.model_validate(n) for n in notes.list_notes(session, ctx.account_id)]


@router.get("/notes/{note_id}")
def get_note(note_id: int, session: SessionDep, ctx: ApiReader) -> NoteOut:
    return NoteOut.model_validate(notes.get_note(session, ctx.account_id, note_id))


@router.post("/notes", status_code=201)
def create_note(body: NoteIn, session: SessionDep, ctx: ApiOperator) -> NoteOut:
    return NoteOut.model_validate(notes.save_note(session, ctx, title=body.title,
                                                  body=body.body))


@router.put("/notes/{note_id}")
def update_note(note_id: int, body: NoteIn, session: SessionDep, ctx: ApiOperator) -> NoteOut:
    return NoteOut.model_validate(notes.save_note(session, ctx, title=body.title,
                                                  body=body.body, note_id=note_id))


@router.delete("/notes/{note_id}", status_code=204, response_class=Response)
def delete_note(note_id: int, session: SessionDep, ctx: ApiOperator) -> Response:
    notes.delete_note(session, ctx, note_id)
    return Response(status_code=204)

"""The account's knowledge notes, kept by operators and read by the agents (the ``notes`` tool)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from web4os.agents.models import Note
from web4os.errors import InvalidInput
from web4os.tenancy import AccountId, TenantContext, get_owned, scoped


def list_notes(session: Session, account_id: AccountId) -> list[Note]:
    return list(session.scalars(scoped(Note, account_id)
                                .order_by(Note.updated_at.desc(), Note.id.desc())))


def get_note(session: Session, account_id: AccountId, note_id: int) -> Note:
    return get_owned(session, Note, note_id, account_id)


def check_note(title: str, body: str) -> tuple[str, str]:
    """A note's title and body trimmed, or the refusal that names the field."""
    title, body = title.strip(), body.strip()
    if not title:
        raise InvalidInput("Give the note a title.", field="title")
    if len(title) > 200:
        raise InvalidInput("Keep the title under 200 characters.", field="title")
    if len(body) > 20_000:
        raise InvalidInput("Keep a note under 20,000 characters.", field="body")
    return title, body


def save_note(session: Session, ctx: TenantContext, *, title: str, body: str,
              note_id: int | None = None) -> Note:
    """Create or edit a note the agents will read."""
    title, body = check_note(title, body)
    if note_id is None:
        note = Note(account_id=ctx.account_id, title=title, body=body, created_by_id=ctx.user_id)
        session.add(note)
    else:
        note = get_owned(session, Note, note_id, ctx.account_id)
        note.title, note.body = title, body
    session.flush()
    return note


def delete_note(session: Session, ctx: TenantContext, note_id: int) -> None:
    session.delete(get_owned(session, Note, note_id, ctx.account_id))
    session.flush()

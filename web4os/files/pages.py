"""A named file's text, one page at a time, for an agent that wants all of it.

A page is ``PAGE_CHARS`` characters of the text extracted at upload, whatever the
kind: the same rule for text, CSV, DOCX and PDF, with no second extraction when an
agent reads (a PDF's own pages are not kept apart in its stored text). Names are looked
up only among the goal's files and the account's knowledge files, so another goal's
attachment or another account's file is simply not there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from web4os.errors import InvalidInput, NotFound
from web4os.files.models import StoredFile
from web4os.tenancy import AccountId, get_owned, of_account

PAGE_CHARS = 4000
NAMES_SHOWN = 20  # of the files that can be read, in a "no such file" answer


@dataclass(frozen=True)
class FilePage:
    """One page of a file's text; ``page`` of ``pages`` (1-based)."""

    name: str
    source: str  # "attached" (to this goal) or "knowledge"
    page: int
    pages: int
    text: str

    def header(self) -> str:
        more = (f"ask for page {self.page + 1} for more" if self.page < self.pages
                else "the end of the file")
        return f"“{self.name}” ({self.source}) · page {self.page} of {self.pages} · {more}"


def _candidates(session: Session, account_id: AccountId,
                goal_id: int) -> list[tuple[int, str]]:
    """(id, name) of the goal's files first, then the account's knowledge, newest first in
    each (names only: a file's text is loaded once it is chosen)."""
    rows = session.execute(
        select(StoredFile.id, StoredFile.name)
        .where(of_account(StoredFile, account_id),
               (StoredFile.goal_id == goal_id) | StoredFile.goal_id.is_(None))
        .order_by(StoredFile.goal_id.is_(None), StoredFile.id.desc()))
    return [(file_id, file_name) for file_id, file_name in rows]


def read_page(session: Session, account_id: AccountId, goal_id: int, name: str,
              page: int) -> FilePage:
    """Page ``page`` of the file called ``name`` among the goal's files and the account's
    knowledge (an attachment wins over a knowledge file of the same name)."""
    files = _candidates(session, account_id, goal_id)
    wanted = name.strip()
    found = next((file_id for file_id, file_name in files if file_name == wanted), None)
    if found is None:
        known = ", ".join(f"“{n}”" for _, n in files[:NAMES_SHOWN]) or "none"
        raise NotFound(f"No such file: “{wanted[:200]}”. The files this card can read: {known}.")
    row = get_owned(session, StoredFile, found, account_id)
    source = "knowledge" if row.goal_id is None else "attached"
    if not row.text:
        why = row.unreadable_reason or "It has no text."
        raise InvalidInput(f"“{row.name}” has no text the agents can read. {why}")
    pages = max(1, math.ceil(len(row.text) / PAGE_CHARS))
    if page < 1 or page > pages:
        raise InvalidInput(f"“{row.name}” has {pages} page(s); ask for page 1 to {pages}.")
    start = (page - 1) * PAGE_CHARS
    return FilePage(row.name, source, page, pages, row.text[start:start + PAGE_CHARS])

"""Files a specialist hands over with its deliverable (a CSV of suppliers, a Markdown
brief): stored like the goal's attachments, marked with the card, listed on the card and
in the goal's report, downloaded through the same routes.

A name a model wrote is made safe rather than refused (no path, no control characters,
a text extension); a file that still can't be stored (empty, too large, over the quota)
is left out with the reason. Either way the deliverable itself is kept.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from web4os.errors import DomainError
from web4os.files.models import StoredFile
from web4os.files.service import drop, store
from web4os.tenancy import AccountId, scoped

MAX_OUTPUT_FILES = 3  # per deliverable
OUTPUT_FILE_CHARS = 100_000  # of one file's text
OUTPUT_NAME_CHARS = 100
TEXT_EXTENSIONS = (".csv", ".md", ".markdown", ".txt")
_UNSAFE = ("Cc", "Cf", "Cs", "Zl", "Zp")


@dataclass
class Outputs:
    """What became of a deliverable's files: stored names, and refusals with reasons."""

    stored: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def safe_name(raw: str, n: int) -> str:
    """A model's file name made fit to store: its last path part, no control characters,
    no leading dots, a text extension (the content is text), else ``file-N.txt``."""
    name = "".join(c for c in unicodedata.normalize("NFC", raw)
                   if unicodedata.category(c) not in _UNSAFE)
    name = re.split(r"[/\\]", name)[-1].strip().lstrip(".").strip()[:OUTPUT_NAME_CHARS]
    if not name:
        return f"file-{n}.txt"
    return name if name.lower().endswith(TEXT_EXTENSIONS) else f"{name}.txt"


def card_outputs(session: Session, account_id: AccountId, task_id: int) -> list[StoredFile]:
    return list(session.scalars(scoped(StoredFile, account_id)
                                .where(StoredFile.task_id == task_id).order_by(StoredFile.id)))


def outputs_by_card(session: Session, account_id: AccountId,
                    goal_id: int) -> dict[int, list[StoredFile]]:
    """A goal's files made by its cards, by card."""
    rows = session.scalars(scoped(StoredFile, account_id)
                           .where(StoredFile.goal_id == goal_id,
                                  StoredFile.task_id.is_not(None)).order_by(StoredFile.id))
    by_card: dict[int, list[StoredFile]] = {}
    for row in rows:
        by_card.setdefault(row.task_id or 0, []).append(row)
    return by_card


def save_outputs(session: Session, account_id: AccountId, *, goal_id: int, task_id: int,
                 files: list[tuple[str, str]]) -> Outputs:
    """Store a deliverable's files as the card's, replacing those of its earlier attempts."""
    for row in card_outputs(session, account_id, task_id):
        drop(session, row)
    done = Outputs()
    for n, (raw, content) in enumerate(files, start=1):
        name = safe_name(raw, n)
        if n > MAX_OUTPUT_FILES:
            done.refused.append(f"{name}: only {MAX_OUTPUT_FILES} files are kept per result.")
            continue
        if name in done.stored:
            stem, dot, ext = name.rpartition(".")
            name = f"{stem}-{n}.{ext}" if dot else f"{name}-{n}"
        if len(content) > OUTPUT_FILE_CHARS:
            done.refused.append(f"{name}: longer than {OUTPUT_FILE_CHARS:,} characters.")
            continue
        try:
            store(session, account_id, name=name, data=content.encode("utf-8"),
                  goal_id=goal_id, task_id=task_id)
        except DomainError as exc:
            done.refused.append(f"{name}: {exc.message}")
            continue
        done.stored.append(name)
    return done

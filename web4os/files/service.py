"""Upload, list, read and delete files: the row and its bytes together or neither.

Bytes are written before the row is flushed; if the transaction then rolls back, the
bytes it wrote are deleted (session hooks below). A deleted row's bytes go once its
transaction commits, so a rolled-back delete loses nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from dataclasses import dataclass

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from web4os.accounts.models import Role
from web4os.config import get_settings
from web4os.credits.service import lock_account
from web4os.errors import Forbidden, InvalidInput, NotFound
from web4os.files.detect import clean_name, detect
from web4os.files.models import StoredFile
from web4os.files.storage import StorageError, get_storage
from web4os.tenancy import AccountId, TenantContext, TenantOwned, get_owned, of_account, scoped

log = logging.getLogger("web4os.files")

_WRITTEN = "web4os.files.written"  # keys stored in this transaction: gone if it rolls back
_DROPPED = "web4os.files.dropped"  # keys of deleted rows: gone once it commits


def size_words(n: int) -> str:
    """A size in the words the limits are set in (bytes, KB, MB)."""
    if n < 1000:
        return f"{n} bytes"
    if n < 1_000_000:
        return f"{n / 1000:.0f} KB"
    return f"{n / 1_000_000:.1f} MB".replace(".0 MB", " MB")


def usage_bytes(session: Session, account_id: AccountId) -> int:
    """What all of an account's files take in the store."""
    total = session.scalar(select(func.coalesce(func.sum(StoredFile.size), 0))
                           .where(of_account(StoredFile, account_id)))
    return int(total or 0)


def check_size(name: str, size: int, session: Session, account_id: AccountId) -> None:
    """The per-file limit and the account's quota, each with its own message."""
    settings = get_settings()
    if size > settings.max_file_bytes:
        raise InvalidInput(f"“{name}” is {size_words(size)}; files can be at most "
                           f"{size_words(settings.max_file_bytes)}.", field="file")
    used = usage_bytes(session, account_id)
    if used + size > settings.storage_quota_bytes:
        raise InvalidInput(f"“{name}” ({size_words(size)}) doesn't fit: this account's files use "
                           f"{size_words(used)} of its {size_words(settings.storage_quota_bytes)}. Delete "
                           "files you no longer need first.", field="file")


def upload(session: Session, ctx: TenantContext, *, name: str, data: bytes,
           goal: TenantOwned | None = None) -> StoredFile:
    """Store a file for a goal (operators) or the account's knowledge (owners)."""
    _may_change(ctx, knowledge=goal is None)
    if goal is not None and goal.account_id != ctx.account_id:
        raise NotFound("No such goal.")
    return store(session, ctx.account_id, name=name, data=data,
                 goal_id=goal.id if goal else None, created_by_id=ctx.user_id)


def store(session: Session, account_id: AccountId, *, name: str, data: bytes,
          goal_id: int | None, task_id: int | None = None,
          created_by_id: int | None = None) -> StoredFile:
    """Check and store one file for the account (the caller checked who may)."""
    name = clean_name(name)
    check_size(name, len(data), session, account_id)
    found = detect(name, data)
    key = f"{int(account_id)}/{uuid.uuid4().hex}"
    try:
        get_storage().put(key, data)
    except (StorageError, OSError) as exc:
        log.exception("storing %s failed", key)
        raise InvalidInput("The file could not be stored right now; try again in a moment.",
                           field="file") from exc
    session.info.setdefault(_WRITTEN, []).append(key)
    # The quota again under the account's row lock: two uploads that each fit alone must
    # not both pass. The bytes went to the store first, so the lock waits on no upload;
    # a refusal here rolls back and the store forgets them (``_WRITTEN``).
    lock_account(session, account_id)
    check_size(name, len(data), session, account_id)
    row = StoredFile(account_id=account_id, goal_id=goal_id, task_id=task_id, name=name,
                     kind=found.kind, content_type=found.content_type, size=len(data),
                     sha256=hashlib.sha256(data).hexdigest(), storage_key=key, text=found.text,
                     unreadable_reason=found.unreadable_reason, created_by_id=created_by_id)
    session.add(row)
    session.flush()
    return row


def upload_many(session: Session, ctx: TenantContext, files: list[tuple[str, bytes]], *,
                goal: TenantOwned | None = None) -> list[StoredFile]:
    """Every file of one form, or none of them (the first refusal stops the lot)."""
    if not files:
        raise InvalidInput("Choose a file to upload.", field="file")
    return [upload(session, ctx, name=name, data=data, goal=goal) for name, data in files]


def _may_change(ctx: TenantContext, *, knowledge: bool) -> None:
    needed = Role.OWNER if knowledge else Role.OPERATOR
    if not Role(ctx.role).at_least(needed):
        what = "the account's knowledge" if knowledge else "a goal's files"
        raise Forbidden(f"Your role ({ctx.role}) can't change {what}; ask an account owner "
                        f"for {needed.value} access.", needs=needed.value)


def list_files(session: Session, account_id: AccountId, *, goal_id: int | None = None,
               knowledge: bool = False) -> list[StoredFile]:
    """A goal's attachments, or the account's knowledge files, newest last."""
    query = scoped(StoredFile, account_id)
    if knowledge:
        query = query.where(StoredFile.goal_id.is_(None))
    elif goal_id is not None:
        query = query.where(StoredFile.goal_id == goal_id)
    return list(session.scalars(query.order_by(StoredFile.id)))


def get_file(session: Session, account_id: AccountId, file_id: int) -> StoredFile:
    return get_owned(session, StoredFile, file_id, account_id)


def read_bytes(row: StoredFile) -> bytes:
    """The stored bytes of a file this account owns (the caller loaded it scoped)."""
    return read_stored(row.storage_key)


def read_stored(storage_key: str) -> bytes:
    """The bytes under ``storage_key``, read by a scoped query of the caller's."""
    try:
        return get_storage().get(storage_key)
    except StorageError:
        raise NotFound("This file's contents are missing from storage.") from None


def delete_file(session: Session, ctx: TenantContext, file_id: int) -> StoredFile:
    """Remove the row now and its bytes when the transaction commits."""
    row = get_owned(session, StoredFile, file_id, ctx.account_id)
    _may_change(ctx, knowledge=row.is_knowledge)
    return drop(session, row)


def drop(session: Session, row: StoredFile) -> StoredFile:
    """Remove a row the caller loaded scoped (and may remove); its bytes go on commit."""
    session.delete(row)
    session.flush()
    session.info.setdefault(_DROPPED, []).append(row.storage_key)
    return row


def _remove(keys: list[str]) -> None:
    store = get_storage()
    for key in keys:
        try:
            store.delete(key)
        except Exception:  # the row is settled either way: log, do not fail it
            log.exception("could not delete stored file %s", key)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info.pop(_WRITTEN, None)
    _remove(session.info.pop(_DROPPED, []))


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_DROPPED, None)
    _remove(session.info.pop(_WRITTEN, []))



# --- what the agents read ----------------------------------------------------------

KNOWLEDGE_PER_CARD = 5  # the most relevant knowledge files a card is given
_WORD = re.compile(r"[^\W\d_]{4,}")


@dataclass(frozen=True)
class AgentFile:
    """A file's text as a specialist gets it: from the goal ("attached") or "knowledge"."""

    name: str
    source: str
    text: str


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def files_for_agents(session: Session, account_id: AccountId, goal_id: int,
                     about: str) -> list[AgentFile]:
    """The goal's readable attachments and the knowledge files most relevant to ``about``
    (shared words with their name and opening), least relevant first: the prompt's budget
    leaves out from the front. Only the chosen files' full text is loaded."""
    rows = session.execute(
        select(StoredFile.id, StoredFile.goal_id, StoredFile.name,
               func.substr(StoredFile.text, 1, 5000))
        .where(of_account(StoredFile, account_id),
               (StoredFile.goal_id == goal_id) | StoredFile.goal_id.is_(None),
               StoredFile.text != "")
        .order_by(StoredFile.id)).all()
    wanted = _words(about)
    knowledge = sorted(((len(wanted & _words(f"{name} {opening}")), file_id)
                        for file_id, owner, name, opening in rows if owner is None),
                       reverse=True)[:KNOWLEDGE_PER_CARD]
    chosen = [file_id for _, file_id in reversed(knowledge)]
    chosen += [file_id for file_id, owner, *_ in rows if owner is not None]
    texts: dict[int, str] = {}
    if chosen:
        texts.update((file_id, text) for file_id, text in session.execute(
            select(StoredFile.id, StoredFile.text).where(of_account(StoredFile, account_id),
                                                         StoredFile.id.in_(chosen))))
    names = {file_id: (name, "knowledge" if owner is None else "attached")
             for file_id, owner, name, _ in rows}
    return [AgentFile(*names[i], texts[i]) for i in chosen if i in texts]

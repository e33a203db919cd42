"""Raising a notification, and each member's in-app list of them.

``notify`` is the one way any domain tells the account's members something. It
writes in the caller's transaction, so a change that rolls back takes its
notification with it and nothing is mailed or posted for it (mail goes out from a job
queued after the commit, see ``mailing``; webhook deliveries from their outbox, see
``webhooks``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Insert, and_, exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from web4os.accounts.models import Role
from web4os.db import table_of, utcnow
from web4os.notifications import mailing
from web4os.notifications.events import ACTIONABLE, Event
from web4os.notifications.models import Notification, NotificationRead, NotificationSettings
from web4os.notifications.prefs import settings_row
from web4os.tenancy import AccountId, get_owned, of_account, scoped
from web4os.webhooks import service as webhooks

MAX_TITLE = 300
MAX_LINK = 500
_TABLE = table_of(Notification)


@functools.cache
def _insert(dialect: str) -> Insert:
    """``INSERT … ON CONFLICT (account_id, once_key) DO NOTHING RETURNING id``: a second
    raise of one occurrence, even by a racing transaction, records nothing."""
    dialect_insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (dialect_insert(_TABLE)
            .on_conflict_do_nothing(index_elements=["account_id", "once_key"])
            .returning(_TABLE.c.id))


def notify(session: Session, account_id: AccountId, event: Event, *, title: str,
           body: str = "", link: str = "", goal_id: int | None = None,
           task_id: int | None = None, once_key: str | None = None) -> bool:
    """Record ``event`` for the account's members in the caller's transaction and owe
    each member who wants it a mail (sent after commit). False, recording nothing, when
    ``once_key`` was recorded for this account already."""
    if link and not (link.startswith("/") and not link.startswith("//")):
        raise ValueError("A notification's link is a path inside web4os, e.g. /tasks/12.")
    now = utcnow()
    new_id = session.execute(_insert(session.get_bind().dialect.name), {
        "account_id": account_id, "event": str(event), "title": _clip(title, MAX_TITLE),
        "body": body, "link": link[:MAX_LINK], "goal_id": goal_id, "task_id": task_id,
        "once_key": once_key, "created_at": now}).scalar_one_or_none()
    if new_id is None:
        return False
    mailing.owe_mails(session, account_id, int(new_id), event)
    webhooks.enqueue_deliveries(session, account_id, str(event), {
        "id": int(new_id), "event": str(event), "created_at": now.isoformat(),
        "account_id": int(account_id), "title": _clip(title, MAX_TITLE), "body": body,
        "url": mailing.public_link(link[:MAX_LINK]), "goal_id": goal_id, "task_id": task_id})
    return True


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- a member's list ------------------------------------------------------------------

@dataclass(frozen=True)
class Listed:
    """A notification as a member sees it."""

    row: Notification
    unread: bool

    @property
    def event(self) -> Event | None:
        try:
            return Event(self.row.event)
        except ValueError:
            return None


def _read_clause(account_id: AccountId, user_id: int, read_up_to: int) -> ColumnElement[bool]:
    """True for notifications this member has read."""
    return (Notification.id <= read_up_to) | exists().where(
        of_account(NotificationRead, account_id), NotificationRead.user_id == user_id,
        NotificationRead.notification_id == Notification.id)


def list_for(session: Session, account_id: AccountId, user_id: int, *,
             limit: int = 100) -> list[Listed]:
    """The account's notifications, newest first, each marked read or not for this member."""
    up_to = _read_up_to(session, account_id, user_id)
    read = _read_clause(account_id, user_id, up_to)
    rows = session.execute(scoped(Notification, account_id).add_columns(read)
                           .order_by(Notification.id.desc()).limit(limit)).all()
    return [Listed(row, not bool(was_read)) for row, was_read in rows]


def unread_count(session: Session, account_id: AccountId, user_id: int, role: Role) -> int:
    """The bell's number: unread notifications; for a viewer, not the requests to act on
    a card (they cannot act, so those are not counted as waiting on them)."""
    up_to = _read_up_to(session, account_id, user_id)
    stmt = select(func.count()).select_from(Notification).where(
        of_account(Notification, account_id), Notification.id > up_to,
        ~exists().where(of_account(NotificationRead, account_id),
                        NotificationRead.user_id == user_id,
                        NotificationRead.notification_id == Notification.id))
    if not role.at_least(Role.OPERATOR):
        stmt = stmt.where(Notification.event.not_in([str(e) for e in ACTIONABLE]))
    return int(session.scalar(stmt) or 0)


def _read_up_to(session: Session, account_id: AccountId, user_id: int) -> int:
    mark = session.scalar(select(NotificationSettings.read_up_to).where(
        of_account(NotificationSettings, account_id), NotificationSettings.user_id == user_id))
    return int(mark or 0)


def mark_read(session: Session, account_id: AccountId, user_id: int,
              notification_id: int) -> Notification:
    """Mark one notification read for this member (again: no change); another account's
    answers ``NotFound``."""
    row = get_owned(session, Notification, notification_id, account_id)
    already = session.scalar(select(NotificationRead.id).where(
        of_account(NotificationRead, account_id), NotificationRead.user_id == user_id,
        NotificationRead.notification_id == row.id))
    if already is None and row.id > _read_up_to(session, account_id, user_id):
        session.add(NotificationRead(account_id=account_id, user_id=user_id,
                                     notification_id=row.id))
        session.flush()
    return row


def mark_all_read(session: Session, account_id: AccountId, user_id: int) -> None:
    """Everything recorded so far counts as read for this member (one row moves; the
    single reads it covers are dropped)."""
    newest = session.scalar(select(func.max(Notification.id)).where(
        of_account(Notification, account_id)))
    if newest is None:
        return
    prefs = settings_row(session, account_id, user_id, create=True)
    assert prefs is not None
    prefs.read_up_to = max(prefs.read_up_to, int(newest))
    for old in session.scalars(scoped(NotificationRead, account_id).where(and_(
            NotificationRead.user_id == user_id,
            NotificationRead.notification_id <= prefs.read_up_to))):
        session.delete(old)
    session.flush()

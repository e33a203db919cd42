"""Mail for notifications: owed in the notifying transaction, sent by a job after it.

**Exactly once.** Each owed mail is a ``notification_mails`` row. A send job claims a
member's pending rows with one guarded ``UPDATE … SET state = 'sending', claim_token = :t
WHERE state = 'pending'`` and commits before it talks to the mail server, so of several
processes (web, workers, redeliveries) only one ever holds a row. It marks them sent
after the server accepted the message. If a process dies between the hand-over and
that mark, the rows stay ``sending``; the sweep gives them back after
``STALE_CLAIM`` and that one mail (a single notice or one digest) goes out again: the
only duplicate possible, and never more than one.

**Digest.** A member who chose "at most one mail every N minutes" is mailed once their
oldest unsent notification is N minutes old and their last mail at least N minutes
ago; the sweep (every few seconds) flushes those. The member's row is claimed with a
guarded update of ``last_mailed_at``, so two processes cannot both send in one window.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import Update, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from web4os.accounts.models import Account, Membership, Role, User
from web4os.config import get_settings
from web4os.db import utcnow
from web4os.mail import MailNotSent, mail_configured, send_mail
from web4os.notifications.events import LABELS, Event
from web4os.notifications.models import (
    MailState,
    Notification,
    NotificationMail,
    NotificationSettings,
)
from web4os.notifications.prefs import wanted
from web4os.queue import enqueue, get_queue
from web4os.tenancy import AccountId, of_account, system_session, tenant_session
from web4os.turns import waiting

log = logging.getLogger("web4os.notifications")

SEND_JOB = "send_notification_mails"
STALE_CLAIM = timedelta(minutes=10)  # a claim older than this was lost with its process
RETRY_AFTER = timedelta(minutes=2)  # after the mail server refused: ~20 minutes in all
MAX_TRIES = 10
MAX_PER_MAIL = 50
_DUE = "web4os.notifications.due"


def owe_mails(session: Session, account_id: AccountId, notification_id: int,
              event: Event) -> None:
    """Owe the notification to every member who wants this event by mail; send the
    immediate ones from a job once the caller's transaction commits."""
    if not mail_configured():
        return
    members = session.execute(
        select(Membership.user_id, Membership.role, NotificationSettings)
        .outerjoin(NotificationSettings, and_(
            NotificationSettings.account_id == Membership.account_id,
            NotificationSettings.user_id == Membership.user_id))
        .where(Membership.account_id == account_id)).all()
    owed = [(user_id, row) for user_id, role, row in members if event in wanted(row, Role(role))]
    if not owed:
        return
    now = utcnow()
    session.execute(insert(NotificationMail), [
        {"account_id": account_id, "user_id": user_id, "notification_id": notification_id,
         "state": MailState.PENDING, "tries": 0, "created_at": now} for user_id, _ in owed])
    due = _queued_this_transaction(session)
    for user_id, row in owed:
        if (row is None or row.digest_minutes == 0) and (account_id, user_id) not in due:
            due.add((account_id, user_id))
            enqueue(session, SEND_JOB, account_id=int(account_id), user_id=user_id)


def _queued_this_transaction(session: Session) -> set[tuple[int, int]]:
    """The members whose send job this transaction already queued (one job is enough)."""
    tx = session.get_transaction()
    held: tuple[object, set[tuple[int, int]]] | None = session.info.get(_DUE)
    if held is None or held[0] is not tx:
        held = (tx, set())
        session.info[_DUE] = held
    return held[1]


@dataclass(frozen=True)
class Batch:
    """What one send job claimed: the mail to write and the token to confirm it by."""

    token: str
    to: str
    account_name: str
    notifications: list[Notification]


def send_mails(*, account_id: int, user_id: int) -> None:
    """The job: send this member what they are owed now, in one mail (idempotent: a
    redelivery finds nothing pending, or a digest window not yet over)."""
    with tenant_session(account_id) as s:
        batch = _claim(s, AccountId(account_id), user_id, utcnow())
    if batch is None:
        return
    subject, body = compose(batch)
    try:
        with waiting():  # the mail server's round trips: others compute meanwhile
            send_mail(batch.to, subject, body)
    except MailNotSent:
        with tenant_session(account_id) as s:
            _give_back(s, AccountId(account_id), batch.token)
        return
    with tenant_session(account_id) as s:
        s.execute(update(NotificationMail).where(
            of_account(NotificationMail, AccountId(account_id)),
            NotificationMail.claim_token == batch.token,
            NotificationMail.state == MailState.SENDING)
            .values(state=MailState.SENT, sent_at=utcnow())
            .execution_options(synchronize_session=False))


def _claim(s: Session, aid: AccountId, user_id: int, now: datetime) -> Batch | None:
    member = s.execute(select(User.email, Account.name).select_from(Membership)
                       .join(User, User.id == Membership.user_id)
                       .join(Account, Account.id == Membership.account_id)
                       .where(Membership.account_id == aid, Membership.user_id == user_id)).first()
    mine = and_(of_account(NotificationMail, aid), NotificationMail.user_id == user_id,
                NotificationMail.state == MailState.PENDING)
    if member is None:  # no longer a member: what was owed is not theirs to read any more
        s.execute(update(NotificationMail).where(mine).values(state=MailState.FAILED)
                  .execution_options(synchronize_session=False))
        return None
    email, account_name = member
    if not _window_open(s, aid, user_id, now):
        return None
    token = secrets.token_hex(16)
    ids = select(NotificationMail.id).where(mine).order_by(NotificationMail.id).limit(MAX_PER_MAIL)
    s.execute(update(NotificationMail).where(NotificationMail.id.in_(ids.scalar_subquery()), mine)
              .values(state=MailState.SENDING, claim_token=token, claimed_at=now,
                      tries=NotificationMail.tries + 1)
              .execution_options(synchronize_session=False))
    notes = list(s.scalars(select(Notification).join(
        NotificationMail, NotificationMail.notification_id == Notification.id).where(
        of_account(NotificationMail, aid), NotificationMail.claim_token == token)
        .order_by(Notification.id)))
    return Batch(token, email, account_name, notes) if notes else None


def _window_open(s: Session, aid: AccountId, user_id: int, now: datetime) -> bool:
    """For a member on a digest: whether a mail may go now, claiming the window if so."""
    row = s.execute(select(NotificationSettings.id, NotificationSettings.digest_minutes).where(
        of_account(NotificationSettings, aid), NotificationSettings.user_id == user_id)).first()
    if row is None or row.digest_minutes == 0:
        return True
    window = timedelta(minutes=row.digest_minutes)
    oldest = s.scalar(select(func.min(NotificationMail.created_at)).where(
        of_account(NotificationMail, aid), NotificationMail.user_id == user_id,
        NotificationMail.state == MailState.PENDING))
    if oldest is None or oldest > now - window:
        return False
    claimed = s.execute(_claim_window(), {"row_id": row.id, "now": now, "since": now - window})
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def _claim_window() -> Update:
    c = NotificationSettings
    return (update(c).where(c.id == bindparam("row_id"), or_(
        c.last_mailed_at.is_(None), c.last_mailed_at <= bindparam("since")))
        .values(last_mailed_at=bindparam("now")).execution_options(synchronize_session=False))


def _give_back(s: Session, aid: AccountId, token: str) -> None:
    """The server refused: try again from the sweep, up to ``MAX_TRIES`` times."""
    claimed = and_(of_account(NotificationMail, aid), NotificationMail.claim_token == token,
                   NotificationMail.state == MailState.SENDING)
    s.execute(update(NotificationMail).where(claimed, NotificationMail.tries >= MAX_TRIES)
              .values(state=MailState.FAILED).execution_options(synchronize_session=False))
    s.execute(update(NotificationMail).where(claimed)
              .values(state=MailState.PENDING, claim_token=None)
              .execution_options(synchronize_session=False))


# --- the sweep's part -----------------------------------------------------------------

def flush_mails(now: datetime | None = None) -> int:
    """Give back claims lost with their process, and queue a send for every member with
    mail pending (a digest whose window is over; a send that failed or was lost).
    Any number of processes may run this: the send jobs claim what they send."""
    now = now or utcnow()
    if not mail_configured():
        return 0
    with system_session() as s:
        s.execute(update(NotificationMail).where(
            NotificationMail.state == MailState.SENDING,
            NotificationMail.claimed_at < now - STALE_CLAIM)
            .values(state=MailState.PENDING, claim_token=None)
            .execution_options(synchronize_session=False))
        waiting = s.execute(
            select(NotificationMail.account_id, NotificationMail.user_id,
                   func.min(NotificationMail.created_at),
                   func.max(NotificationSettings.digest_minutes),
                   func.max(NotificationSettings.last_mailed_at))
            .outerjoin(NotificationSettings, and_(
                NotificationSettings.account_id == NotificationMail.account_id,
                NotificationSettings.user_id == NotificationMail.user_id))
            .where(NotificationMail.state == MailState.PENDING, or_(
                NotificationMail.claimed_at.is_(None),
                NotificationMail.claimed_at < now - RETRY_AFTER))
            .group_by(NotificationMail.account_id, NotificationMail.user_id).limit(1000)).all()
    queue, sent = get_queue(), 0
    for account_id, user_id, oldest, digest, last in waiting:
        window = timedelta(minutes=digest or 0)
        if oldest <= now - window and (last is None or last <= now - window):
            queue.submit(SEND_JOB, {"account_id": account_id, "user_id": user_id})
            sent += 1
    return sent


# --- the message ---------------------------------------------------------------------

_base_seen: list[str] = []


def remember_base_url(base: str) -> None:
    """The address this process was last opened at: links' base without
    ``WEB4OS_PUBLIC_URL`` (a worker that never serves a page needs the setting)."""
    if not _base_seen or _base_seen[0] != base:
        _base_seen[:] = [base]


def _base() -> str:
    return (get_settings().public_url or (_base_seen[0] if _base_seen else "")).rstrip("/")


def public_link(link: str) -> str | None:
    """``link`` as an absolute URL (for webhooks' ``url``), or None without a link or a
    known address."""
    base = _base()
    return f"{base}{link}" if link and base else None


def absolute(link: str, account_id: int) -> str:
    """The link a mail carries: through sign-in (into ``account_id``, for someone in
    several accounts), back to ``link`` (a path); opening it only shows a page, it
    never acts."""
    return f"{_base()}/login?next={quote(link or '/notifications', safe='/')}&account={account_id}"


def compose(batch: Batch) -> tuple[str, str]:
    """Subject and plain-text body: one notice, or a digest of several."""
    notes = batch.notifications
    if len(notes) == 1:
        subject = f"web4os: {notes[0].title}"
    else:
        subject = f"web4os: {len(notes)} updates in {batch.account_name}"
    parts = [_entry(n) for n in notes]
    settings_link = absolute("/notifications/settings", notes[0].account_id)
    footer = (f"You get this as a member of {batch.account_name}. Choose which events "
              f"are mailed, and how often: {settings_link}\n")
    return subject, "\n\n".join(parts) + "\n\n-- \n" + footer


def _entry(n: Notification) -> str:
    try:
        kind = LABELS[Event(n.event)]
    except ValueError:
        kind = n.event
    lines = [f"{kind}: {n.title}"]
    if n.body:
        lines.append(n.body)
    lines.append(f"Open: {absolute(n.link, n.account_id)}")
    return "\n".join(lines)

"""Housekeeping of an account's data: history older than its retention setting, and
accounts whose deletion grace period has ended. The sweep calls ``housekeeping``.

Each account's retention pass is claimed by a guarded update of
``retention_checked_at``, so however many processes sweep, one does it, about hourly.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from web4os.accountdata import deletion
from web4os.accounts.models import Account
from web4os.db import utcnow
from web4os.errors import InvalidInput
from web4os.files.models import StoredFile as File
from web4os.files.storage import get_storage
from web4os.goals.models import Goal, GoalStatus, Task, TaskEvent, TaskStatus
from web4os.tenancy import AccountId, of_account, system_session, tenant_session

log = logging.getLogger("web4os.retention")
CHECK_EVERY = timedelta(hours=1)
MAX_RETENTION_MONTHS = 120
FINISHED_GOALS = (GoalStatus.COMPLETED, GoalStatus.FAILED, GoalStatus.CANCELLED)


def months_before(now: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (clamped to month end)."""
    y, m = divmod(now.year * 12 + now.month - 1 - months, 12)
    day = now.day
    while True:
        try:
            return now.replace(year=y, month=m + 1, day=day)
        except ValueError:
            day -= 1


def removed_note(months: int) -> str:
    return (f"[Removed: this account keeps deliverables for {months} month"
            f"{'' if months == 1 else 's'}.]")


def apply_retention(session: Session, account_id: AccountId, months: int,
                    now: datetime | None = None) -> dict[str, int]:
    """Drop history events, and deliverables of finished goals, older than ``months``."""
    cutoff = months_before(now or utcnow(), months)
    events = session.execute(delete(TaskEvent).where(of_account(TaskEvent, account_id),
                                                     TaskEvent.created_at < cutoff))
    old_goals = select(Goal.id).where(of_account(Goal, account_id),
                                      Goal.status.in_(FINISHED_GOALS), Goal.updated_at < cutoff)
    note = removed_note(months)
    outputs = session.execute(
        update(Task).where(of_account(Task, account_id), Task.goal_id.in_(old_goals),
                           Task.status.in_([TaskStatus.DONE, TaskStatus.FAILED,
                                            TaskStatus.CANCELLED]),
                           Task.output != "", Task.output != note)
        .values(output=note).execution_options(synchronize_session=False))
    made = session.execute(select(File.id, File.storage_key).where(
        of_account(File, account_id), File.task_id.is_not(None),
        File.created_at < cutoff)).all()
    if made:
        session.execute(delete(File).where(File.id.in_([f.id for f in made])))
        session.flush()
        storage = get_storage()
        for f in made:
            storage.delete(f.storage_key)
    return {"events": int(events.rowcount or 0),  # type: ignore[attr-defined]
            "deliverables": int(outputs.rowcount or 0),  # type: ignore[attr-defined]
            "files": len(made)}


def _claim_retention(session: Session, now: datetime) -> list[tuple[int, int]]:
    rows = session.execute(select(Account.id, Account.retention_months,
                                  Account.retention_checked_at).where(Account.retention_months.is_not(None),
        (Account.retention_checked_at.is_(None))
        | (Account.retention_checked_at < now - CHECK_EVERY))).all()
    claimed = []
    for account_id, months, seen in rows:
        guard = (Account.retention_checked_at.is_(None) if seen is None
                 else Account.retention_checked_at == seen)
        done = session.execute(update(Account).where(Account.id == account_id, guard)
                               .values(retention_checked_at=now)
                               .execution_options(synchronize_session=False))
        if done.rowcount:  # type: ignore[attr-defined]
            claimed.append((int(account_id), int(months or 0)))
    return claimed


def housekeeping(now: datetime | None = None) -> None:
    """Delete accounts whose grace period ended; apply retention where it is due."""
    now = now or utcnow()
    with system_session() as s:
        due = deletion.due_for_deletion(s, now)
    for account_id in due:
        with system_session() as s:
            if account_id in deletion.due_for_deletion(s, now):  # still due: not cancelled
                removed = deletion.delete_account(s, account_id)
                log.info("account %s deleted after its grace period: %s", account_id, removed)
    with system_session() as s:
        claimed = _claim_retention(s, now)
    for account_id, months in claimed:
        with tenant_session(account_id) as s:
            apply_retention(s, AccountId(account_id), months, now)


def set_retention(session: Session, account_id: AccountId, raw: str | int | None) -> Account:
    """Set (a whole number of months) or clear (empty) the retention limit."""
    text = "" if raw is None else str(raw).strip()
    account = session.get(Account, account_id)
    assert account is not None
    if not text:
        account.retention_months = None
    elif not text.isdigit() or not 1 <= int(text) <= MAX_RETENTION_MONTHS:
        raise InvalidInput(f"Enter a whole number of months from 1 to {MAX_RETENTION_MONTHS}, "
                           "or leave it empty to keep everything.", field="retention_months")
    else:
        account.retention_months = int(text)
        account.retention_checked_at = None
    session.flush()
    return account

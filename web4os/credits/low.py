"""Word to the account's members when a debit takes the balance below their threshold.

Once per crossing: the notice is keyed by the last time credits came in (a grant, a
top-up, an upward adjustment), so the balance swaying around the threshold as holds
are taken and given back says nothing new until credits arrive and run low again.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from web4os.credits.models import CreditLedgerEntry, EntryKind
from web4os.notifications.events import Event
from web4os.notifications.service import notify
from web4os.tenancy import AccountId, of_account

CREDITS_IN = (EntryKind.GRANT, EntryKind.TOPUP, EntryKind.ADJUSTMENT)


def after_debit(session: Session, account_id: AccountId, *, before: int, after: int,
                threshold: int) -> bool:
    """Notify if this movement crossed the threshold downwards; True if it did so now."""
    if threshold <= 0 or not after < threshold <= before:
        return False
    last_in = session.scalar(select(func.max(CreditLedgerEntry.id)).where(
        of_account(CreditLedgerEntry, account_id), CreditLedgerEntry.kind.in_(CREDITS_IN),
        CreditLedgerEntry.amount > 0))
    return notify(session, account_id, Event.CREDITS_LOW,
                  title=f"Credits are low: {max(after, 0):,} left",
                  body=(f"The balance fell below {threshold:,} credits. Work stops when it "
                        "runs out; top up or ask your admin for credits."),
                  link="/usage", once_key=f"credits.low:{last_in or 0}")

"""What each member hears by mail, and how often; the account's low-credit threshold.

Choices are per member per account (someone in two accounts may want different
mail from each). A member who never chose gets the defaults for their role
(``events.default_events``): a viewer is not mailed requests to act that they
cannot act on, unless they opt in.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from web4os.accounts.models import Account, Role
from web4os.errors import Forbidden, InvalidInput
from web4os.notifications.events import Event, default_events, parse_events
from web4os.notifications.models import NotificationSettings
from web4os.tenancy import AccountId, TenantContext, of_account

# Minutes between two mails at most (0: each notification as it happens).
DIGEST_CHOICES: dict[int, str] = {
    0: "Immediately",
    15: "At most one mail every 15 minutes",
    60: "At most one mail an hour",
    1440: "At most one mail a day",
}
MAX_THRESHOLD = 10_000_000


@dataclass(frozen=True)
class Preferences:
    """A member's mail choices as they apply now."""

    events: frozenset[Event]
    digest_minutes: int
    chosen: bool  # False: the role's defaults


def settings_row(session: Session, account_id: AccountId, user_id: int, *,
                 create: bool = False) -> NotificationSettings | None:
    """The member's row in this account (made with the defaults when ``create``)."""
    row = session.scalar(select(NotificationSettings).where(
        of_account(NotificationSettings, account_id), NotificationSettings.user_id == user_id))
    if row is None and create:
        row = NotificationSettings(account_id=account_id, user_id=user_id, mail_events=None,
                                   digest_minutes=0, read_up_to=0)
        session.add(row)
        session.flush()
    return row


def wanted(row: NotificationSettings | None, role: Role) -> frozenset[Event]:
    """The events mailed to a member with this row (or none) and role."""
    if row is None or row.mail_events is None:
        return default_events(can_act=role.at_least(Role.OPERATOR))
    return parse_events([str(n) for n in row.mail_events])


def preferences(session: Session, ctx: TenantContext) -> Preferences:
    row = settings_row(session, ctx.account_id, _user(ctx))
    return Preferences(events=wanted(row, Role(ctx.role)),
                       digest_minutes=row.digest_minutes if row is not None else 0,
                       chosen=row is not None and row.mail_events is not None)


def save_preferences(session: Session, ctx: TenantContext, events: list[str],
                     digest: str) -> Preferences:
    """Save the member's mailed events and digest choice (unknown event names refused)."""
    unknown = sorted(set(events) - {e.value for e in Event})
    if unknown:
        raise InvalidInput("Pick events from the list.", field="events")
    try:
        minutes = int(digest)
    except ValueError:
        minutes = -1
    if minutes not in DIGEST_CHOICES:
        raise InvalidInput("Pick how often mail may come from the list.", field="digest")
    row = settings_row(session, ctx.account_id, _user(ctx), create=True)
    assert row is not None
    row.mail_events = sorted(events)
    row.digest_minutes = minutes
    session.flush()
    return preferences(session, ctx)


def low_credit_threshold(session: Session, account_id: AccountId) -> int:
    account = session.get(Account, account_id)
    return account.low_credit_threshold if account is not None else 0


def set_low_credit_threshold(session: Session, ctx: TenantContext, raw: str) -> int:
    """An owner sets below which balance members hear that credits run low (0: never)."""
    if ctx.role != Role.OWNER.value:
        raise Forbidden("Only an account owner can change the low-credit threshold.")
    text = raw.strip().replace(",", "").replace("_", "")
    if not text.isdigit() or int(text) > MAX_THRESHOLD:
        raise InvalidInput(f"Enter a whole number of credits from 0 to {MAX_THRESHOLD:,}.",
                           field="low_credit_threshold")
    account = session.get(Account, ctx.account_id)
    assert account is not None
    account.low_credit_threshold = int(text)
    session.flush()
    return account.low_credit_threshold


def _user(ctx: TenantContext) -> int:
    if ctx.user_id is None:
        raise Forbidden("Notification settings belong to a person; sign in to change them.")
    return ctx.user_id

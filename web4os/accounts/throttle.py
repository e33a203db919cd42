"""Rate limits for signing in, signing up and verification emails: their one home.

Counts are rows in ``rate_events``, so every web process sees the same ones. Signing in
is limited per (email, address) and per address; wrong passwords for one email from
anywhere only slow that email down (a growing delay), and never from an address it
signed in from lately, so a guesser elsewhere cannot lock its owner out.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from web4os.accounts.models import RateEvent
from web4os.config import get_settings
from web4os.db import utcnow
from web4os.errors import RateLimited

LOGIN_FAILED, LOGIN_OK, SIGNUP, VERIFY_MAIL = "login_failed", "login_ok", "signup", "verify_mail"

PAIR_LIMIT, PAIR_WINDOW = 5, timedelta(minutes=15)  # wrong passwords, one email from one address
ADDRESS_LIMIT, ADDRESS_WINDOW = 20, timedelta(minutes=15)  # wrong passwords from one address
# Wrong passwords for one email from anywhere: this many an hour are free, then each
# further try waits 1, 2, 4… seconds after the last one, at most EMAIL_DELAY_MAX.
EMAIL_FREE, EMAIL_WINDOW = 10, timedelta(hours=1)
EMAIL_DELAY_MAX = timedelta(minutes=15)
KNOWN_ADDRESS_FOR = timedelta(days=30)  # a successful sign-in exempts its address this long
SIGNUP_WINDOW = timedelta(hours=1)
MAIL_GAP = timedelta(minutes=1)  # between two verification emails to one person
MAIL_PER_DAY = 5

_KEPT = {LOGIN_OK: KNOWN_ADDRESS_FOR}  # every other kind is kept a day
_PRUNE_EVERY = 60.0
_pruned_at = 0.0
_prune_lock = threading.Lock()


def _key(email: str) -> str:
    return email.strip().lower()[:254]


def _wait_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


def _blocked_for(session: Session, kind: str, where: Sequence[ColumnElement[bool]], limit: int,
                 window: timedelta) -> int:
    """Seconds until fewer than ``limit`` such events are left in ``window`` (0: not blocked)."""
    now = utcnow()
    latest = session.scalars(
        select(RateEvent.created_at).where(RateEvent.kind == kind, *where,
                                           RateEvent.created_at >= now - window)
        .order_by(RateEvent.created_at.desc()).limit(limit)).all()
    if len(latest) < limit:
        return 0
    return max(1, math.ceil((latest[-1] + window - now).total_seconds()))


def _refuse(seconds: int, message: str) -> None:
    if seconds > 0:
        raise RateLimited(message.format(wait=_wait_words(seconds)), retry_after=seconds)


def record(session: Session, kind: str, *, subject: str = "", address: str = "") -> None:
    """Count one event (and now and then forget the ones no limit looks at any more)."""
    session.add(RateEvent(kind=kind, subject=subject[:254], address=address[:64]))
    _prune(session)
    session.flush()


def _prune(session: Session) -> None:
    global _pruned_at
    with _prune_lock:
        if time.monotonic() - _pruned_at < _PRUNE_EVERY:
            return
        _pruned_at = time.monotonic()
    now = utcnow()
    kept_a_day = RateEvent.kind.not_in(list(_KEPT))
    session.execute(delete(RateEvent).where(or_(
        and_(kept_a_day, RateEvent.created_at < now - timedelta(days=1)),
        *(and_(RateEvent.kind == kind, RateEvent.created_at < now - age)
          for kind, age in _KEPT.items()))))


# --- signing in ---------------------------------------------------------------------------

def _email_delay(session: Session, email: str) -> int:
    """Seconds an unknown address still waits before trying ``email`` again (0: none)."""
    now = utcnow()
    failures, last = session.execute(
        select(func.count(), func.max(RateEvent.created_at)).where(
            RateEvent.kind == LOGIN_FAILED, RateEvent.subject == email,
            RateEvent.created_at >= now - EMAIL_WINDOW)).one()
    if failures < EMAIL_FREE or last is None:
        return 0
    delay = min(EMAIL_DELAY_MAX.total_seconds(), 2.0 ** (failures - EMAIL_FREE))
    return max(0, math.ceil((last - now).total_seconds() + delay))


def _known_address(session: Session, email: str, address: str) -> bool:
    return session.scalar(select(RateEvent.id).where(
        RateEvent.kind == LOGIN_OK, RateEvent.subject == email, RateEvent.address == address,
        RateEvent.created_at >= utcnow() - KNOWN_ADDRESS_FOR).limit(1)) is not None


def check_login(session: Session, email: str, address: str) -> None:
    """Refuse a sign-in try (before any password is checked) while a limit holds."""
    email, address = _key(email), address[:64]
    _refuse(_blocked_for(session, LOGIN_FAILED,
                         [RateEvent.subject == email, RateEvent.address == address],
                         PAIR_LIMIT, PAIR_WINDOW),
            "Too many wrong passwords for this email from your network. Try again in {wait}, "
            "or ask your admin to reset the password.")
    _refuse(_blocked_for(session, LOGIN_FAILED, [RateEvent.address == address],
                         ADDRESS_LIMIT, ADDRESS_WINDOW),
            "Too many wrong passwords from your network. Try again in {wait}.")
    if not _known_address(session, email, address):
        _refuse(_email_delay(session, email),
                "This email had many wrong passwords lately, so sign-ins from new places are "
                "slowed down. Try again in {wait}.")


def login_failed(session: Session, email: str, address: str) -> None:
    record(session, LOGIN_FAILED, subject=_key(email), address=address)


def login_succeeded(session: Session, email: str, address: str) -> None:
    """Forget this address's wrong passwords for the email and remember the address."""
    email, address = _key(email), address[:64]
    session.execute(delete(RateEvent).where(
        RateEvent.kind.in_([LOGIN_FAILED, LOGIN_OK]), RateEvent.subject == email,
        RateEvent.address == address))
    record(session, LOGIN_OK, subject=email, address=address)


# --- signing up and verification emails ---------------------------------------------------

def check_signup(session: Session, address: str) -> None:
    limit = get_settings().signups_per_address_per_hour
    _refuse(_blocked_for(session, SIGNUP, [RateEvent.address == address[:64]], limit,
                         SIGNUP_WINDOW),
            "Too many new accounts were made from your network in the last hour. Try again "
            "in {wait}.")


def signed_up(session: Session, address: str) -> None:
    record(session, SIGNUP, address=address)


def check_verification_mail(session: Session, email: str) -> None:
    email = _key(email)
    _refuse(_blocked_for(session, VERIFY_MAIL, [RateEvent.subject == email], 1, MAIL_GAP),
            "We just sent that email. Give it a minute to arrive (check the spam folder too), "
            "then try again in {wait}.")
    _refuse(_blocked_for(session, VERIFY_MAIL, [RateEvent.subject == email], MAIL_PER_DAY,
                         timedelta(days=1)),
            "We have sent that email several times today. Try again in {wait}.")


def verification_mail_sent(session: Session, email: str, address: str) -> None:
    record(session, VERIFY_MAIL, subject=_key(email), address=address)

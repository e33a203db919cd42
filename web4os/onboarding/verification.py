"""Email verification: with ``WEB4OS_SIGNUP_REQUIRE_EMAIL_VERIFICATION`` a self-serve
account's starting credits wait until its owner opens the link mailed to them.

The link is signed (``WEB4OS_SECRET_KEY``), expires after
``WEB4OS_EMAIL_VERIFICATION_HOURS`` and works once: it marks the email verified, and the
starting credits are granted through the ledger under one idempotency key per account,
so two openings at once still grant them once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from web4os.accounts import throttle
from web4os.accounts.models import Account, User
from web4os.accounts.security import BadSignature, SignatureExpired, sign, unsign
from web4os.accounts.service import membership
from web4os.config import get_settings
from web4os.credits import service as credits
from web4os.db import utcnow
from web4os.errors import DomainError
from web4os.mail import OutgoingMail
from web4os.tenancy import AccountId

PURPOSE = "verify-email"


class LinkUnusable(DomainError):
    """A verification link that was altered or has expired; the page says which."""

    status_code = 400


@dataclass(frozen=True)
class Confirmed:
    user: User
    credits_granted: int
    already: bool  # the email was verified before this opening


def link_for(user: User, account_id: int, base_url: str) -> str:
    """The verification link for ``user``, naming the account its starting credits go to."""
    settings = get_settings()
    token = sign(settings.secret_key, PURPOSE, {"u": user.id, "e": user.email, "a": account_id})
    return f"{(settings.public_url or base_url).rstrip('/')}/verify-email/{token}"


def _message(user: User, link: str) -> tuple[str, str]:
    settings = get_settings()
    grant = settings.signup_credit_grant
    why = (f"Open this link to confirm your email address; your {grant:,} starting credits "
           "arrive as soon as you do:" if grant > 0 else
           "Open this link to confirm your email address:")
    body = (f"Hello {user.label},\n\n{why}\n\n{link}\n\nThe link works once and expires in "
            f"{settings.email_verification_hours} hours. If you did not sign up for web4os, "
            "ignore this email.\n")
    return "Confirm your email for web4os", body


def verification_mail(session: Session, user: User, account_id: int, *, address: str,
                      base_url: str) -> OutgoingMail:
    """Count one verification email to ``user`` (refused while its limits hold) and write
    it; the caller sends it once this transaction has committed."""
    throttle.check_verification_mail(session, user.email)
    throttle.verification_mail_sent(session, user.email, address)
    subject, body = _message(user, link_for(user, account_id, base_url))
    return OutgoingMail(user.email, subject, body)


def confirm(session: Session, token: str) -> Confirmed:
    """Mark the email verified and, the first time only, grant the starting credits."""
    settings = get_settings()
    try:
        payload = unsign(settings.secret_key, PURPOSE, token,
                         settings.email_verification_hours * 3600)
    except SignatureExpired:
        raise LinkUnusable("This confirmation link has expired. Log in and ask for a new "
                           "one from the banner at the top of the page.") from None
    except BadSignature:
        raise LinkUnusable("This confirmation link is not valid: it may have been cut short "
                           "when copied. Open it from the email again, or log in and ask for "
                           "a new one.") from None
    user = session.get(User, payload.get("u")) if isinstance(payload.get("u"), int) else None
    account_id = payload.get("a")
    if user is None or user.email != payload.get("e") or not isinstance(account_id, int):
        raise LinkUnusable("This confirmation link no longer matches an account. Log in and "
                           "ask for a new one.")
    if user.email_verified_at is not None:
        return Confirmed(user, 0, already=True)
    user.email_verified_at = utcnow()
    return Confirmed(user, _grant_starting_credits(session, user, account_id), already=False)


def _grant_starting_credits(session: Session, user: User, account_id: int) -> int:
    """The pending starting credits of the account ``user`` signed up with, once."""
    if membership(session, user.id, account_id) is None:
        return 0
    claimed = session.execute(  # guarded: two openings at once, one claim
        update(Account).where(Account.id == account_id, Account.starting_credits_pending)
        .values(starting_credits_pending=False)
        .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    amount = get_settings().signup_credit_grant
    if not claimed or amount <= 0:
        return 0
    entry = credits.grant(session, AccountId(account_id), amount, actor=f"verified:{user.email}",
                          reason="Starting credits", key=f"starting-credits:{account_id}",
                          resume=True)
    return amount if entry is not None else 0


def pending_account(session: Session, user: User, account: Account | None) -> bool:
    """Whether ``account``'s starting credits wait for ``user`` to confirm their email."""
    return (account is not None and account.starting_credits_pending
            and user.email_verified_at is None
            and membership(session, user.id, account.id) is not None)

"""A new account comes with its roster of agents and its starting credits, whichever
way it is made (signup, the admin console, ``web4os demo``)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from web4os.accounts import throttle
from web4os.accounts.models import Account, AccountKind, AccountStatus, Membership, Role, User
from web4os.accounts.schemas import SignupForm
from web4os.accounts.security import hash_password
from web4os.accounts.service import find_user
from web4os.agents.service import create_default_roster
from web4os.config import get_settings
from web4os.credits import service as credits
from web4os.credits.models import EntryKind
from web4os.errors import Conflict
from web4os.tenancy import AccountId
from web4os.tools import builtin


def create_account(
    session: Session, *, name: str, kind: AccountKind, credit_grant: int, actor: str,
    plan_notes: str = "",
) -> Account:
    """An account with its roster, its built-in tools and starting credits (no members
    yet)."""
    account = Account(name=name, kind=kind, status=AccountStatus.ACTIVE, credit_balance=0,
                      plan_notes=plan_notes)
    session.add(account)
    session.flush()
    create_default_roster(session, AccountId(account.id))
    builtin.builtin_server(session, AccountId(account.id))  # the file reader; web fetch off
    if credit_grant > 0:
        credits.grant(session, AccountId(account.id), credit_grant, actor=actor,
                      reason="Starting credits", kind=EntryKind.GRANT)
        session.refresh(account, ["credit_balance"])  # the grant was a guarded UPDATE
    return account


def signup(session: Session, form: SignupForm, address: str) -> tuple[User, Account]:
    """Self-serve: a new individual account owned by a new user, a few per address an hour.

    With email verification required the account starts without credits; its starting
    credits wait for the owner to open the link (``onboarding.verification``).
    """
    throttle.check_signup(session, address)
    if find_user(session, form.email) is not None:
        raise Conflict("An account with that email already exists. Log in instead, or reset "
                       "your password with your admin.", field="email")
    user = User(email=form.email, password_hash=hash_password(form.password),
                display_name=form.display_name)
    session.add(user)
    session.flush()
    settings = get_settings()
    verify = settings.signup_require_email_verification
    account = create_account(session, name=form.account_name, kind=AccountKind.INDIVIDUAL,
                             credit_grant=0 if verify else settings.signup_credit_grant,
                             actor=f"signup:{user.email}")
    account.starting_credits_pending = verify and settings.signup_credit_grant > 0
    session.add(Membership(account_id=account.id, user_id=user.id, role=Role.OWNER))
    throttle.signed_up(session, address)
    return user, account

"""Self-serve signup and email verification (HTML). Thin: parse, call the service, render."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from web4os.accounts import service as accounts
from web4os.accounts.deps import CsrfDep, ViewerDep, logged_in, optional_viewer
from web4os.accounts.schemas import SignupForm
from web4os.config import get_settings
from web4os.errors import DomainError
from web4os.mail import MailNotSent, OutgoingMail
from web4os.onboarding import service, verification
from web4os.playbooks import service as playbooks
from web4os.tenancy import AccountId, bind_system
from web4os.text import check_form
from web4os.web.deps import SessionDep, client_address
from web4os.web.forms import FormValues, field_errors, with_retry_after
from web4os.web.templating import render

router = APIRouter()


def _signup_page(request: Request, values: dict[str, str], errors: dict[str, str],
                 status_code: int = 200) -> Response:
    settings = get_settings()
    return render(request, "accounts/signup.html", {
        "values": values, "errors": errors, "grant": settings.signup_credit_grant,
        "verify": settings.signup_require_email_verification,
        "starters": playbooks.starter_choices()}, status_code=status_code)


@router.get("/signup")
def signup_page(request: Request, session: SessionDep) -> Response:
    if optional_viewer(request, session) is not None:
        return RedirectResponse("/", status_code=303)
    return _signup_page(request, {}, {})


@router.post("/signup", dependencies=[CsrfDep])
def signup(request: Request, session: SessionDep, values: FormValues) -> Response:
    bind_system(session)  # a new tenant is created: no existing account's wall applies
    address, mail = client_address(request), None
    try:
        check_form(values)
        form = SignupForm(email=values.get("email", ""), password=values.get("password", ""),
                          account_name=values.get("account_name", ""),
                          display_name=values.get("display_name", ""))
        starter = playbooks.check_starter(values.get("starter", ""))
        user, account = service.signup(session, form, address)
        playbooks.apply_starter(session, AccountId(account.id), starter, user_id=user.id,
                                actor=f"signup:{user.email}")
        if get_settings().signup_require_email_verification:
            mail = verification.verification_mail(session, user, account.id, address=address,
                                                  base_url=str(request.base_url))
    except (ValidationError, DomainError) as exc:
        session.rollback()  # nothing of a refused signup is kept
        values.pop("password", None)
        status = exc.status_code if isinstance(exc, DomainError) and exc.status_code == 429 else 400
        return with_retry_after(_signup_page(request, values, field_errors(exc), status), exc)
    login = accounts.start_session(session, user, account.id)
    sent = _commit_and_send(session, mail)  # a plain handler: already off the event loop
    return logged_in(login.token, "/?welcome=1" + sent)


def _commit_and_send(session: SessionDep, mail: OutgoingMail | None) -> str:
    """Commit, then hand ``mail`` to the mail server (no lock is held while it answers);
    the query the next page reads to say whether it went (``mail=sent`` / ``unsent``)."""
    if mail is None:
        return ""
    session.commit()
    try:
        mail.send()
    except MailNotSent:
        return "&mail=unsent"
    return "&mail=sent"


@router.get("/verify-email/{token}")
def verify_email(request: Request, token: str, session: SessionDep) -> Response:
    """The link from the verification email: it is the authority, so no login is needed."""
    optional_viewer(request, session)
    bind_system(session)
    try:
        confirmed = verification.confirm(session, token)
    except verification.LinkUnusable as exc:
        return render(request, "accounts/verify_email.html", {"problem": exc.message},
                      status_code=exc.status_code)
    return render(request, "accounts/verify_email.html", {
        "problem": None, "email": confirmed.user.email, "already": confirmed.already,
        "granted": confirmed.credits_granted})


@router.post("/verify-email/resend", dependencies=[CsrfDep])
def resend_verification(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    if viewer.user.email_verified_at is not None:
        return RedirectResponse("/", status_code=303)
    account_id = viewer.account.id if viewer.account is not None else 0
    mail = verification.verification_mail(session, viewer.user, account_id,
                                          address=client_address(request),
                                          base_url=str(request.base_url))
    return RedirectResponse("/?" + _commit_and_send(session, mail).lstrip("&"), status_code=303)


def confirm_email_on_page(request: Request) -> dict[str, Any] | None:
    """The "confirm your email" banner of a signed-in owner whose starting credits wait
    for it (``page_value``)."""
    viewer, session = getattr(request.state, "viewer", None), getattr(request.state, "session", None)
    if viewer is None or session is None or not verification.pending_account(
            session, viewer.user, viewer.account):
        return None
    return {"email": viewer.user.email, "grant": get_settings().signup_credit_grant,
            "unsent": request.query_params.get("mail") == "unsent"}

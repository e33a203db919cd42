"""Login, logout, switching accounts and accepting invites (HTML)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from web4os.accounts import invites, service
from web4os.accounts.deps import SESSION_COOKIE, CsrfDep, ViewerDep, logged_in, optional_viewer
from web4os.accounts.models import User
from web4os.errors import DomainError, RateLimited
from web4os.tenancy import bind_system
from web4os.text import check_form
from web4os.web.deps import SessionDep, client_address
from web4os.web.forms import FormValues, field_errors, with_retry_after
from web4os.web.templating import render

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only same-site paths, never ``//evil.example`` (nor ``/\\evil.example`` or a path
    with a tab or newline in it, which browsers turn into the same)."""
    if (target and target.startswith("/") and not target.startswith("//")
            and "\\" not in target and not any(ord(c) < 32 for c in target)):
        return target
    return "/"


def _landing(user: User, account_id: int | None, next_path: str | None) -> str:
    """Where a login goes: the page it was asked for, else home; a platform admin with no
    account of their own has no home page, so the console."""
    target = _safe_next(next_path)
    if target == "/" and account_id is None and user.is_platform_admin:
        return "/admin"
    return target


def _account_hint(raw: str | None) -> int | None:
    """The account a mailed link points into (``account=``), if it is a number."""
    return int(raw) if raw and raw.isdigit() and len(raw) < 12 else None


@router.get("/login")
def login_page(request: Request, session: SessionDep, next: str = "/",
               account: str | None = None) -> Response:
    viewer = optional_viewer(request, session)
    hint = _account_hint(account)
    if viewer is not None:
        # A link into another of the person's accounts asks before switching (a GET
        # changes nothing, not even which account the session looks at).
        member = (service.membership(session, viewer.user.id, hint)
                  if hint is not None and viewer.account is not None
                  and hint != viewer.account.id else None)
        if member is not None:
            return render(request, "accounts/switch_to.html",
                          {"target": member.account, "next": _safe_next(next)})
        account_id = viewer.account.id if viewer.account else None
        return RedirectResponse(_landing(viewer.user, account_id, next), status_code=303)
    return render(request, "accounts/login.html",
                  {"values": {"next": next, "account": str(hint or "")}, "errors": {}})


@router.post("/login", dependencies=[CsrfDep])
def login(request: Request, session: SessionDep, values: FormValues) -> Response:
    try:
        check_form(values)
        user = service.authenticate(session, values.get("email", ""),
                                    values.get("password", ""), client_address(request))
    except DomainError as exc:
        session.commit()  # keep the failure count even though we answer with an error
        values.pop("password", None)
        status = 429 if isinstance(exc, RateLimited) else 400
        return with_retry_after(render(request, "accounts/login.html",
                                       {"values": values, "errors": field_errors(exc)},
                                       status_code=status), exc)
    hint = _account_hint(values.get("account"))
    into = hint if hint is not None and service.membership(session, user.id, hint) else None
    login = service.start_session(session, user, into)
    return logged_in(login.token, _landing(user, login.row.account_id, values.get("next")))


@router.post("/logout", dependencies=[CsrfDep])
def logout(viewer: ViewerDep, session: SessionDep) -> Response:
    service.end_session(session, viewer.web_session)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE)
    return resp


@router.post("/switch-account", dependencies=[CsrfDep])
def switch_account(request: Request, viewer: ViewerDep, session: SessionDep,
                   values: FormValues) -> Response:
    try:
        check_form(values)
        account_id = int(values.get("account_id", ""))
    except ValueError:
        raise DomainError("Pick an account from the list.") from None
    service.switch_account(session, viewer.web_session, account_id)
    return RedirectResponse(_safe_next(values.get("next")), status_code=303)


# --- invites --------------------------------------------------------------------------
# The link is the authority, so these run as system (bind_system) before any tenant.


def _invite_page(request: Request, session: SessionDep, token: str,
                 values: dict[str, str], errors: dict[str, str], status_code: int = 200
                 ) -> Response:
    viewer = optional_viewer(request, session)
    bind_system(session)
    try:
        invite, account = invites.open_invite(session, token)
    except invites.InviteUnusable as exc:
        return render(request, "accounts/invite.html", {"problem": exc.message},
                      status_code=exc.status_code)
    has_login = service.find_user(session, invite.email) is not None
    return render(request, "accounts/invite.html", {
        "invite": invite, "account": account, "token": token, "me": viewer,
        "has_login": has_login, "values": values, "errors": errors, "problem": None,
    }, status_code=status_code)


@router.get("/invite/{token}")
def invite_page(request: Request, token: str, session: SessionDep) -> Response:
    return _invite_page(request, session, token, {}, {})


@router.post("/invite/{token}", dependencies=[CsrfDep])
def accept_invite(request: Request, token: str, session: SessionDep,
                  values: FormValues) -> Response:
    viewer = optional_viewer(request, session)
    bind_system(session)
    try:
        check_form(values)
        if viewer is not None:
            member = invites.accept_as_user(session, token, viewer.user)
            service.switch_account(session, viewer.web_session, member.account_id)
            return RedirectResponse("/?joined=1", status_code=303)
        user, member = invites.accept_as_new_user(
            session, token, display_name=values.get("display_name", ""),
            password=values.get("password", ""))
    except DomainError as exc:
        session.rollback()
        values.pop("password", None)
        return _invite_page(request, session, token, values, field_errors(exc),
                            status_code=exc.status_code)
    login = service.start_session(session, user, member.account_id)
    return logged_in(login.token, "/?joined=1")

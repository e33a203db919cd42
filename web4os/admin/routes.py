"""The admin console (HTML). ``AdminDep`` answers 404 to everyone but platform admins
and marks the session cross-account (``bind_system``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from web4os.accounts.deps import AdminDep, CsrfDep
from web4os.accounts.invites import IssuedInvite
from web4os.accounts.models import AccountStatus
from web4os.admin import directory, ledger, service
from web4os.admin.limits import near_limits
from web4os.credits import topups
from web4os.db import utcnow
from web4os.errors import DomainError
from web4os.playbooks.service import starter_choices
from web4os.text import check_form, refusal
from web4os.web.deps import SessionDep
from web4os.web.forms import FormValues, field_errors
from web4os.web.templating import render

router = APIRouter(prefix="/admin")


def _link(request: Request, issued: IssuedInvite) -> str:
    return str(request.base_url).rstrip("/") + issued.path


@router.get("")
def index(request: Request, session: SessionDep, admin: AdminDep, q: str = "",
          only: str = "") -> Response:
    """Accounts, searchable by name or owner email, filtered to suspended or low credits,
    under the accounts near their monthly budget."""
    shown = directory.AccountFilter.parse(only)
    q = q[:200]
    problem = refusal(q)
    return render(request, "admin/index.html", {
        "rows": [] if problem else directory.list_accounts(session, query=q, only=shown),
        "q": "" if problem else q, "search_error": problem, "only": shown.value,
        "near_limits": near_limits(session, utcnow()),
        "topups": topups.pending_requests(session)},
        status_code=422 if problem else 200)


@router.get("/accounts/new")
def new_account_page(request: Request, admin: AdminDep) -> Response:
    return render(request, "admin/new_account.html",
                  {"values": {"credit_allowance": "5000"}, "errors": {},
                   "starters": starter_choices()})


@router.post("/accounts", dependencies=[CsrfDep])
def create_account(request: Request, session: SessionDep, admin: AdminDep,
                   values: FormValues) -> Response:
    try:
        check_form(values)
        allowance = service.parse_credits(values.get("credit_allowance", ""),
                                          field="credit_allowance")
        account, issued = service.create_concierge(
            session, admin, name=values.get("name", ""), owner_email=values.get("email", ""),
            credit_allowance=allowance, plan_notes=values.get("plan_notes", ""),
            starter=values.get("starter", ""))
    except DomainError as exc:
        session.rollback()
        return render(request, "admin/new_account.html",
                      {"values": values, "errors": field_errors(exc),
                       "starters": starter_choices()},
                      status_code=exc.status_code)
    page = _account_page(request, session, account.id, invite_link=_link(request, issued),
                         invite_email=issued.row.email)
    page.headers["HX-Push-Url"] = f"/admin/accounts/{account.id}"  # the new account's page
    return page


def _account_page(request: Request, session: SessionDep, account_id: int, *,
                  status_code: int = 200, before: int | None = None, **extra: Any) -> Response:
    account = service.get_account(session, account_id)
    lines = ledger.ledger_lines(session, account.id, before=before)
    context: dict[str, Any] = {
        "account": account, "owners": service.owners_of(session, account.id),
        "ledger": lines, "ledger_before": before,
        "ledger_older": lines[-1].last_entry_id if len(lines) == ledger.PAGE_LINES else None,
        "totals": ledger.totals(session, account.id), "values": {}, "errors": {},
        "invite_link": None, "invite_email": None,
        "default_max_running": service.default_max_running(),
    }
    context.update(extra)
    return render(request, "admin/account.html", context, status_code=status_code)


def _refused(request: Request, session: SessionDep, account_id: int, values: dict[str, str],
             exc: DomainError) -> Response:
    """A refused change is explained on the account page; an unknown account stays a 404."""
    if exc.status_code == 404:
        raise exc
    session.rollback()
    return _account_page(request, session, account_id, values=values, errors=field_errors(exc),
                         status_code=exc.status_code)


@router.get("/accounts/{account_id}")
def account_page(request: Request, account_id: int, session: SessionDep, admin: AdminDep,
                 before: Annotated[int | None, Query(ge=1)] = None) -> Response:
    return _account_page(request, session, account_id, before=before)


@router.post("/accounts/{account_id}/credits", dependencies=[CsrfDep])
def change_credits(request: Request, account_id: int, session: SessionDep,
                   admin: AdminDep, values: FormValues) -> Response:
    try:
        check_form(values)
        amount = service.parse_credits(values.get("amount", ""), allow_negative=True)
        service.change_credits(session, admin, account_id, amount=amount,
                               reason=values.get("reason", ""))
    except DomainError as exc:
        return _refused(request, session, account_id, values, exc)
    return RedirectResponse(f"/admin/accounts/{account_id}", status_code=303)


@router.post("/accounts/{account_id}/share", dependencies=[CsrfDep])
def change_share(request: Request, account_id: int, session: SessionDep,
                 admin: AdminDep, values: FormValues) -> Response:
    try:
        check_form(values)
        service.set_share(session, account_id, max_running=values.get("max_running", ""),
                          weight=values.get("share_weight", ""))
    except DomainError as exc:
        return _refused(request, session, account_id, values, exc)
    return RedirectResponse(f"/admin/accounts/{account_id}", status_code=303)


@router.post("/accounts/{account_id}/invite", dependencies=[CsrfDep])
def invite_owner(request: Request, account_id: int, session: SessionDep,
                 admin: AdminDep, values: FormValues) -> Response:
    try:
        check_form(values)
        issued = service.invite_owner(session, admin, account_id, values.get("email", ""))
    except DomainError as exc:
        return _refused(request, session, account_id, values, exc)
    return _account_page(request, session, account_id, invite_link=_link(request, issued),
                         invite_email=issued.row.email)


@router.get("/accounts/{account_id}/suspend")
def confirm_suspend(request: Request, account_id: int, session: SessionDep,
                    admin: AdminDep) -> Response:
    """The confirmation step before suspending: a page, so it works without JavaScript."""
    account = service.get_account(session, account_id)
    return render(request, "admin/confirm_suspend.html", {
        "account": account, "members": service.members_of(session, account.id)})


@router.post("/accounts/{account_id}/suspend", dependencies=[CsrfDep])
def suspend(account_id: int, session: SessionDep, admin: AdminDep) -> Response:
    service.set_status(session, account_id, AccountStatus.SUSPENDED)
    return RedirectResponse(f"/admin/accounts/{account_id}", status_code=303)


@router.post("/accounts/{account_id}/reactivate", dependencies=[CsrfDep])
def reactivate(account_id: int, session: SessionDep, admin: AdminDep) -> Response:
    service.set_status(session, account_id, AccountStatus.ACTIVE)
    return RedirectResponse(f"/admin/accounts/{account_id}", status_code=303)


def refused_page(request: Request, session: SessionDep, account_id: int,
                 values: dict[str, str], exc: DomainError) -> Response:
    """The account page with a refused form's message, for the console's other routers."""
    return _refused(request, session, account_id, values, exc)

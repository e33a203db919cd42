"""Owner pages: account settings, API tokens, members and invites (HTML).

Every route here takes ``OwnerCtx`` (or ``RevokeAccessCtx``, an owner taking access
away, which a suspended account still allows): viewers and operators get 403 on the
server, whatever the page shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from web4os.accounts import invites, members, tokens
from web4os.accounts.deps import CsrfDep, OwnerCtx, RevokeAccessCtx
from web4os.accounts.invites import parse_role
from web4os.accounts.models import Account, Role
from web4os.accounts.zones import known_zones
from web4os.errors import DomainError
from web4os.text import check_form
from web4os.web.deps import SessionDep
from web4os.web.forms import FormValues, field_errors
from web4os.web.templating import render

router = APIRouter()

ROLES = [r.value for r in Role]


def _settings_context(session: SessionDep, ctx: OwnerCtx) -> dict[str, Any]:
    account = session.get(Account, ctx.account_id)
    return {"account": account, "tokens": tokens.list_tokens(session, ctx.account_id),
            "time_zones": known_zones(), "roles": ROLES, "values": {}, "errors": {}, "new_token": None}


def _members_context(session: SessionDep, ctx: OwnerCtx) -> dict[str, Any]:
    return {"members": members.list_members(session, ctx.account_id),
            "invites": invites.pending_invites(session, ctx.account_id),
            "roles": ROLES, "values": {}, "errors": {}, "new_invite": None,
            "me": ctx.user_id}


@dataclass(frozen=True)
class _Page:
    """An owner page that a refused form renders again."""

    template: str
    context: Callable[[Session, OwnerCtx], dict[str, Any]]


SETTINGS_PAGE = _Page("accounts/settings.html", _settings_context)
MEMBERS_PAGE = _Page("accounts/members.html", _members_context)


def _show(request: Request, session: Session, ctx: OwnerCtx, page: _Page, *,
          status_code: int = 200, **extra: Any) -> Response:
    return render(request, page.template, {**page.context(session, ctx), **extra},
                  status_code=status_code)


def _refused(request: Request, session: Session, ctx: OwnerCtx, page: _Page,
             values: dict[str, str], exc: DomainError) -> Response:
    """The form's page again, the owner's input kept and the reason beside its field.

    Rolls back first, so nothing the refused change wrote is committed or shown.
    """
    session.rollback()
    return _show(request, session, ctx, page, values=values, errors=field_errors(exc),
                 status_code=exc.status_code)


# The form routes below share one shape (read the form, call the service, show a
# refusal on the page, else redirect); each calls a different service, so it stays.
@router.get("/settings")
def settings_page(request: Request, session: SessionDep, ctx: OwnerCtx) -> Response:
    return _show(request, session, ctx, SETTINGS_PAGE)


@router.post("/settings/account", dependencies=[CsrfDep])
def rename(request: Request, session: SessionDep, ctx: OwnerCtx, values: FormValues) -> Response:
    try:
        check_form(values)
        members.update_account(session, ctx, values.get("name", ""),
                               values.get("time_zone"))
    except DomainError as exc:
        return _refused(request, session, ctx, SETTINGS_PAGE, values, exc)
    return RedirectResponse("/settings?saved=1", status_code=303)


@router.post("/settings/tokens", dependencies=[CsrfDep])
def create_token(request: Request, session: SessionDep, ctx: OwnerCtx,
                 values: FormValues) -> Response:
    """The secret is rendered on this response only; it is never shown again."""
    try:
        check_form(values)
        issued = tokens.create_token(session, ctx, name=values.get("token_name", ""),
                                     role=parse_role(values.get("role", "")))
    except DomainError as exc:
        if exc.field == "name":
            exc.field = "token_name"
        return _refused(request, session, ctx, SETTINGS_PAGE, values, exc)
    return _show(request, session, ctx, SETTINGS_PAGE, new_token=issued)


@router.post("/settings/tokens/{token_id}/revoke", dependencies=[CsrfDep])
def revoke_token(token_id: int, session: SessionDep, ctx: RevokeAccessCtx) -> Response:
    tokens.revoke_token(session, ctx, token_id)
    return RedirectResponse("/settings", status_code=303)


@router.get("/settings/members")
def members_page(request: Request, session: SessionDep, ctx: OwnerCtx) -> Response:
    return _show(request, session, ctx, MEMBERS_PAGE)


@router.post("/settings/invites", dependencies=[CsrfDep])
def create_invite(request: Request, session: SessionDep, ctx: OwnerCtx,
                  values: FormValues) -> Response:
    """Shows the new link once, to copy and send; no email is sent."""
    try:
        check_form(values)
        issued = invites.create_invite(session, ctx, email=values.get("email", ""),
                                       role=values.get("role", ""))
    except DomainError as exc:
        return _refused(request, session, ctx, MEMBERS_PAGE, values, exc)
    return _show(request, session, ctx, MEMBERS_PAGE, new_invite=issued,
                 invite_url=str(request.base_url).rstrip("/") + issued.path)


@router.post("/settings/invites/{invite_id}/revoke", dependencies=[CsrfDep])
def revoke_invite(invite_id: int, session: SessionDep, ctx: RevokeAccessCtx) -> Response:
    invites.revoke_invite(session, ctx, invite_id)
    return RedirectResponse("/settings/members", status_code=303)


@router.post("/settings/members/{membership_id}/role", dependencies=[CsrfDep])
def change_role(request: Request, membership_id: int, session: SessionDep,
                ctx: OwnerCtx, values: FormValues) -> Response:
    try:
        check_form(values)
        members.change_role(session, ctx, membership_id, values.get("role", ""))
    except DomainError as exc:
        return _members_error(request, session, ctx, exc)
    return RedirectResponse("/settings/members", status_code=303)


@router.post("/settings/members/{membership_id}/remove", dependencies=[CsrfDep])
def remove_member(request: Request, membership_id: int, session: SessionDep,
                  ctx: RevokeAccessCtx) -> Response:
    try:
        members.remove_member(session, ctx, membership_id)
    except DomainError as exc:
        return _members_error(request, session, ctx, exc)
    return RedirectResponse("/settings/members", status_code=303)


def _members_error(request: Request, session: SessionDep, ctx: OwnerCtx,
                   exc: DomainError) -> Response:
    """Not-found stays a plain 404; a refused change is explained on the members page."""
    if exc.status_code == 404:
        raise exc
    session.rollback()
    return _show(request, session, ctx, MEMBERS_PAGE, errors={"__all__": exc.message},
                 status_code=exc.status_code)

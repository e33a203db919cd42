"""Notification pages: the list, the bell, and each member's mail settings (HTML).

Every member reads and marks their own notifications (viewers too, and in a suspended
account, which is there to be read); mail choices are each member's own, changed while
the account is active; the low-credit threshold is an owner's setting.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from web4os.accounts.deps import CsrfDep, OwnerCtx, ReaderCtx, ViewerDep, refuse_if_suspended
from web4os.accounts.models import Role
from web4os.errors import DomainError
from web4os.mail import mail_configured
from web4os.notifications import mailing, prefs, service
from web4os.notifications.events import ACTIONABLE, CHIPS, LABELS, Event
from web4os.tenancy import AccountId, TenantContext
from web4os.text import check_form
from web4os.web.deps import SessionDep
from web4os.web.forms import FormLists, FormValues, field_errors
from web4os.web.templating import render

router = APIRouter()


def unread_on_page(request: Request) -> int | None:
    """The bell's count for the signed-in member (``page_value``); it also notes the
    address people open web4os at, for mail links when no public URL is set."""
    viewer, session = getattr(request.state, "viewer", None), getattr(request.state, "session", None)
    if viewer is None or viewer.account is None or viewer.role is None or session is None:
        return None
    mailing.remember_base_url(str(request.base_url))
    return service.unread_count(session, AccountId(viewer.account.id), viewer.user.id,
                                viewer.role)


def _user(ctx: TenantContext) -> int:
    assert ctx.user_id is not None  # pages are signed in
    return ctx.user_id


@router.get("/notifications")
def notifications_page(request: Request, session: SessionDep, ctx: ReaderCtx) -> Response:
    listed = service.list_for(session, ctx.account_id, _user(ctx))
    return render(request, "notifications/list.html", {
        "listed": listed, "chips": CHIPS, "can_act": Role(ctx.role).at_least(Role.OPERATOR),
        "actionable": {str(e) for e in ACTIONABLE}})


@router.get("/notifications/bell")
def bell(request: Request, ctx: ReaderCtx) -> Response:
    return render(request, "notifications/_bell.html")


@router.post("/notifications/read-all", dependencies=[CsrfDep])
def read_all(session: SessionDep, ctx: ReaderCtx) -> Response:
    service.mark_all_read(session, ctx.account_id, _user(ctx))
    return RedirectResponse("/notifications", status_code=303)


@router.post("/notifications/{notification_id}/read", dependencies=[CsrfDep])
def read_one(notification_id: int, session: SessionDep, ctx: ReaderCtx) -> Response:
    service.mark_read(session, ctx.account_id, _user(ctx), notification_id)
    return RedirectResponse("/notifications", status_code=303)


def _settings_context(session: Session, ctx: TenantContext, **extra: Any) -> dict[str, Any]:
    chosen = prefs.preferences(session, ctx)
    return {"prefs": chosen, "events": list(Event), "labels": LABELS,
            "digests": prefs.DIGEST_CHOICES, "mail_on": mail_configured(),
            "is_owner": ctx.role == Role.OWNER.value,
            "threshold": str(prefs.low_credit_threshold(session, ctx.account_id)),
            "actionable": {str(e) for e in ACTIONABLE},
            "can_act": Role(ctx.role).at_least(Role.OPERATOR),
            "values": {}, "errors": {}, **extra}


@router.get("/notifications/settings")
def settings_page(request: Request, session: SessionDep, ctx: ReaderCtx) -> Response:
    return render(request, "notifications/settings.html", _settings_context(session, ctx))


@router.post("/notifications/settings", dependencies=[CsrfDep])
def save_settings(request: Request, session: SessionDep, ctx: ReaderCtx, viewer: ViewerDep,
                  values: FormValues, lists: FormLists) -> Response:
    assert viewer.account is not None  # ReaderCtx has checked it
    refuse_if_suspended(request, viewer.account)
    try:
        check_form(values)
        prefs.save_preferences(session, ctx, lists.get("events", []), values.get("digest", ""))
    except DomainError as exc:
        return render(request, "notifications/settings.html",
                      _settings_context(session, ctx, values=values, errors=field_errors(exc)),
                      status_code=400)
    return RedirectResponse("/notifications/settings?saved=1", status_code=303)


@router.post("/notifications/settings/threshold", dependencies=[CsrfDep])
def save_threshold(request: Request, session: SessionDep, ctx: OwnerCtx,
                   values: FormValues) -> Response:
    try:
        check_form(values)
        prefs.set_low_credit_threshold(session, ctx, values.get("low_credit_threshold", ""))
    except DomainError as exc:
        return render(request, "notifications/settings.html",
                      _settings_context(session, ctx, values=values, errors=field_errors(exc)),
                      status_code=400)
    return RedirectResponse("/notifications/settings?saved=1", status_code=303)

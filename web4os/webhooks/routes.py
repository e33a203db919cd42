"""The webhooks pages (/settings/webhooks): endpoints, their delivery logs, the test event.
Thin: parse, call the service, render. Owners configure; operators and viewers read (never
a secret, which only its owner sees, once, right after making it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from web4os.accounts.deps import CsrfDep, OwnerCtx, ReaderCtx, ViewerDep
from web4os.accounts.models import Role
from web4os.errors import DomainError
from web4os.tenancy import AccountId
from web4os.text import check_form
from web4os.web.deps import SessionDep
from web4os.web.forms import FormLists, field_errors
from web4os.web.templating import render
from web4os.webhooks import service
from web4os.webhooks.events import EVENTS

router = APIRouter()
BASE = "/settings/webhooks"


def _checked(form: dict[str, list[str]]) -> dict[str, str]:
    """Every posted value held to the text rule; the form as one value per field."""
    for name, values in form.items():
        for value in values:
            check_form({name: value})
    return {name: values[-1] for name, values in form.items()}


def _can_edit(viewer: ViewerDep) -> bool:
    return viewer.role is not None and viewer.role.at_least(Role.OWNER)


def _list_page(request: Request, session: Session, viewer: ViewerDep, account_id: AccountId, *,
               values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
               status_code: int = 200) -> Response:
    return render(request, "webhooks/list.html", {
        "endpoints": service.list_endpoints(session, account_id), "events": EVENTS,
        "can_edit": _can_edit(viewer), "values": values or {"events": []},
        "errors": errors or {}}, status_code=status_code)


def _endpoint_page(request: Request, session: Session, viewer: ViewerDep, account_id: AccountId,
                   endpoint_id: int, *, secret: str = "", values: dict[str, Any] | None = None,
                   errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    endpoint = service.get_endpoint(session, account_id, endpoint_id)
    return render(request, "webhooks/endpoint.html", {
        "endpoint": endpoint, "events": EVENTS, "can_edit": _can_edit(viewer),
        "deliveries": service.list_deliveries(session, account_id, endpoint.id),
        "secret": secret, "errors": errors or {},
        "values": values or {"url": endpoint.url, "description": endpoint.description,
                             "events": list(endpoint.events or []), "enabled": endpoint.enabled},
    }, status_code=status_code)


@router.get(BASE)
def webhooks_page(request: Request, session: SessionDep, ctx: ReaderCtx,
                  viewer: ViewerDep) -> Response:
    return _list_page(request, session, viewer, ctx.account_id)


@router.post(BASE, dependencies=[CsrfDep])
def add_endpoint(request: Request, session: SessionDep, ctx: OwnerCtx, viewer: ViewerDep,
                 form: FormLists) -> Response:
    """The new endpoint's page, with its secret: this answer is the only one that shows it."""
    events = form.get("events", [])
    try:
        values = _checked(form)
        made = service.create_endpoint(session, ctx.account_id, url=values.get("url", ""),
                                       events=events,
                                       description=values.get("description", ""))
    except DomainError as exc:
        kept = {"url": form.get("url", [""])[-1], "description": form.get("description", [""])[-1],
                "events": events}
        return _list_page(request, session, viewer, ctx.account_id, values=kept,
                          errors=field_errors(exc), status_code=400)
    return _endpoint_page(request, session, viewer, ctx.account_id, made.endpoint.id,
                          secret=made.secret)


@router.get(BASE + "/{endpoint_id}")
def endpoint_page(endpoint_id: int, request: Request, session: SessionDep, ctx: ReaderCtx,
                  viewer: ViewerDep) -> Response:
    return _endpoint_page(request, session, viewer, ctx.account_id, endpoint_id)


@router.post(BASE + "/{endpoint_id}", dependencies=[CsrfDep])
def edit_endpoint(endpoint_id: int, request: Request, session: SessionDep, ctx: OwnerCtx,
                  viewer: ViewerDep, form: FormLists) -> Response:
    """The edit form: URL, events, description and the on/off checkbox (absent: off)."""
    events = form.get("events", [])
    values = _checked(form)  # refused text is named on the error page, before any lookup
    try:
        service.update_endpoint(session, ctx.account_id, endpoint_id, url=values.get("url", ""),
                                events=events, description=values.get("description", ""),
                                enabled=values.get("enabled") == "on")
    except DomainError as exc:
        session.rollback()
        kept = {"url": form.get("url", [""])[-1], "description": form.get("description", [""])[-1],
                "events": events, "enabled": form.get("enabled", [""])[-1] == "on"}
        return _endpoint_page(request, session, viewer, ctx.account_id, endpoint_id,
                              values=kept, errors=field_errors(exc), status_code=400)
    return RedirectResponse(f"{BASE}/{endpoint_id}?saved=1", status_code=303)


@router.post(BASE + "/{endpoint_id}/rotate", dependencies=[CsrfDep])
def rotate_secret(endpoint_id: int, request: Request, session: SessionDep, ctx: OwnerCtx,
                  viewer: ViewerDep) -> Response:
    made = service.rotate_secret(session, ctx.account_id, endpoint_id)
    return _endpoint_page(request, session, viewer, ctx.account_id, made.endpoint.id,
                          secret=made.secret)


@router.post(BASE + "/{endpoint_id}/test", dependencies=[CsrfDep])
def send_test(endpoint_id: int, session: SessionDep, ctx: OwnerCtx) -> Response:
    service.send_test(session, ctx.account_id, endpoint_id)
    return RedirectResponse(f"{BASE}/{endpoint_id}?tested=1", status_code=303)


@router.post(BASE + "/{endpoint_id}/delete", dependencies=[CsrfDep])
def delete_endpoint(endpoint_id: int, session: SessionDep, ctx: OwnerCtx) -> Response:
    service.delete_endpoint(session, ctx.account_id, endpoint_id)
    return RedirectResponse(f"{BASE}?deleted=1", status_code=303)


@router.post(BASE + "/{endpoint_id}/deliveries/{delivery_id}/retry", dependencies=[CsrfDep])
def retry_delivery(endpoint_id: int, delivery_id: int, session: SessionDep,
                   ctx: OwnerCtx) -> Response:
    service.retry_now(session, ctx.account_id, endpoint_id, delivery_id)
    return RedirectResponse(f"{BASE}/{endpoint_id}?retried=1", status_code=303)

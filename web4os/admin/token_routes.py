"""The admin console's token page (/admin/tokens): make, list and revoke admin API tokens.
Admins only (404 to others), like the rest of the console."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from web4os.accounts.deps import AdminDep, CsrfDep
from web4os.admin import tokens
from web4os.errors import DomainError
from web4os.text import check_form
from web4os.web.deps import SessionDep
from web4os.web.forms import FormValues, field_errors
from web4os.web.templating import render

router = APIRouter(prefix="/admin")


def _page(request: Request, session: SessionDep, *, status_code: int = 200,
          **extra: Any) -> Response:
    context: dict[str, Any] = {"tokens": tokens.list_admin_tokens(session), "values": {},
                               "errors": {}, "new_token": None}
    context.update(extra)
    return render(request, "admin/tokens.html", context, status_code=status_code)


@router.get("/tokens")
def tokens_page(request: Request, session: SessionDep, admin: AdminDep) -> Response:
    return _page(request, session)


@router.post("/tokens", dependencies=[CsrfDep])
def create_token(request: Request, session: SessionDep, admin: AdminDep,
                 values: FormValues) -> Response:
    """The secret is rendered on this response only; it is never shown again."""
    try:
        check_form(values)
        issued = tokens.create_admin_token(session, admin, name=values.get("name", ""))
    except DomainError as exc:
        session.rollback()
        return _page(request, session, values=values, errors=field_errors(exc),
                     status_code=exc.status_code)
    return _page(request, session, new_token=issued)


@router.post("/tokens/{token_id}/revoke", dependencies=[CsrfDep])
def revoke_token(token_id: int, session: SessionDep, admin: AdminDep) -> Response:
    tokens.revoke_admin_token(session, token_id)
    return RedirectResponse("/admin/tokens", status_code=303)

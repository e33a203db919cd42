"""Owner pages for the account's own data: the archive, retention, deletion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from web4os.accountdata import archive, deletion, retention
from web4os.accounts.deps import CsrfDep, OwnerCtx, RevokeAccessCtx
from web4os.accounts.models import Account
from web4os.db import session_factory
from web4os.errors import DomainError
from web4os.tenancy import AccountId, TenantContext, bind_account
from web4os.text import check_form
from web4os.web.deps import SessionDep
from web4os.web.forms import FormValues, field_errors
from web4os.web.templating import render

router = APIRouter()


def _account(session: SessionDep, ctx: TenantContext) -> Account:
    account = session.get(Account, ctx.account_id)
    assert account is not None
    return account


def _page(request: Request, session: SessionDep, ctx: TenantContext, *,
          values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
          status_code: int = 200) -> Response:
    return render(request, "accounts/data.html", {
        "account": _account(session, ctx), "counts": archive.rows_of(session, ctx.account_id),
        "grace_days": deletion.grace_days(), "values": values or {}, "errors": errors or {},
    }, status_code=status_code)


def archive_stream(account_id: AccountId) -> Iterator[bytes]:
    # The request's session closes when the route returns; the stream reads in its own,
    # bound to the account like every other (row-level security holds on Postgres).
    with session_factory(immediate=False)() as s:
        bind_account(s, account_id)
        yield from archive.archive_chunks(s, account_id)


def download(session: SessionDep, ctx: TenantContext) -> Response:
    name = archive.archive_name(_account(session, ctx))
    return StreamingResponse(archive_stream(ctx.account_id), media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/settings/data")
def data_page(request: Request, session: SessionDep, ctx: OwnerCtx) -> Response:
    return _page(request, session, ctx)


@router.get("/settings/data/archive.zip")
def archive_download(session: SessionDep, ctx: RevokeAccessCtx) -> Response:
    """Everything the account holds, as one zip (allowed while suspended: it only reads)."""
    return download(session, ctx)


def _form(request: Request, session: SessionDep, ctx: TenantContext, values: dict[str, str],
          change: Any) -> Response:
    try:
        check_form(values)
        change()
    except DomainError as exc:
        session.rollback()
        return _page(request, session, ctx, values=values, errors=field_errors(exc),
                     status_code=exc.status_code)
    return RedirectResponse("/settings/data?saved=1", status_code=303)


@router.post("/settings/data/retention", dependencies=[CsrfDep])
def set_retention(request: Request, session: SessionDep, ctx: OwnerCtx,
                  values: FormValues) -> Response:
    return _form(request, session, ctx, values, lambda: retention.set_retention(
        session, ctx.account_id, values.get("retention_months")))


@router.post("/settings/data/delete", dependencies=[CsrfDep])
def request_deletion(request: Request, session: SessionDep, ctx: RevokeAccessCtx,
                     values: FormValues) -> Response:
    return _form(request, session, ctx, values, lambda: deletion.request_deletion(
        session, ctx, values.get("confirm", "")))


@router.post("/settings/data/delete/cancel", dependencies=[CsrfDep])
def cancel_deletion(session: SessionDep, ctx: RevokeAccessCtx) -> Response:
    deletion.cancel_deletion(session, ctx.account_id)
    return RedirectResponse("/settings/data?saved=1", status_code=303)

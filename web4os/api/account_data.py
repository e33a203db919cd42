"""JSON API for the account's own data: the archive, deletion and retention (owners)."""

from __future__ import annotations

from datetime import datetime

from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from web4os.accountdata import deletion, retention
from web4os.accountdata.routes import download
from web4os.api.accounts import ApiRevoke
from web4os.api.deps import ApiOwner
from web4os.api.openapi import api_router
from web4os.text import Text
from web4os.web.deps import SessionDep

router = api_router("account-data", prefix="/api/v1/account")


class DeletionIn(BaseModel):
    confirm: Text  # the account's name


class DeletionOut(BaseModel):
    deletion_due_at: datetime | None


class RetentionIn(BaseModel):
    retention_months: int | None = None


@router.get("/archive", operation_id="download_account_archive",
            response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}},
                             "description": "The account's data as a zip."}})
def api_archive(session: SessionDep, ctx: ApiOwner) -> Response:
    """A zip of everything the account holds (tables as JSON Lines, files, a manifest)."""
    return download(session, ctx)


@router.post("/deletion", status_code=202,
             operation_id="request_account_deletion")
def api_request_deletion(body: DeletionIn, session: SessionDep, ctx: ApiRevoke) -> DeletionOut:
    """Schedule the account's deletion after the grace period (``confirm``: its name)."""
    return DeletionOut(deletion_due_at=deletion.request_deletion(session, ctx, body.confirm)
                       .deletion_due_at)


@router.delete("/deletion",
               operation_id="cancel_account_deletion")
def api_cancel_deletion(session: SessionDep, ctx: ApiRevoke) -> DeletionOut:
    return DeletionOut(deletion_due_at=deletion.cancel_deletion(session, ctx.account_id)
                       .deletion_due_at)


@router.put("/retention", operation_id="set_retention")
def api_retention(body: RetentionIn, session: SessionDep, ctx: ApiOwner) -> RetentionIn:
    """Months of history to keep; ``null`` keeps everything."""
    account = retention.set_retention(session, ctx.account_id, body.retention_months)
    return RetentionIn(retention_months=account.retention_months)

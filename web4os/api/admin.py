"""JSON API for platform admins (admin tokens): accounts, credits, suspension, the
workers' share, archives and deletion. The same services and messages as the console.

An account's token gets 403 here, and an admin token gets 403 on every tenant route.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from web4os.accountdata import archive, deletion
from web4os.accountdata.routes import archive_stream
from web4os.accounts.invites import IssuedInvite
from web4os.accounts.models import AccountStatus
from web4os.admin import directory, service
from web4os.admin.api_schemas import (
    AdminAccountOut,
    ConciergeIn,
    ConciergeOut,
    CreditsIn,
    CreditsOut,
    OwnerInviteIn,
    OwnerInviteOut,
    ShareIn,
)
from web4os.api.deps import ApiAdmin
from web4os.api.openapi import api_router
from web4os.tenancy import AccountId
from web4os.text import Text
from web4os.web.deps import SessionDep

router = api_router("admin", prefix="/api/v1/admin")

IdempotencyKey = Annotated[str | None, Header(
    max_length=80, pattern=r"^[A-Za-z0-9._:-]+$",
    description="Any unique string per intended change: a retry with the same key "
                "changes nothing (the answer says ``applied: false``).")]


def _one(session: Session, account_id: int) -> AdminAccountOut:
    account = service.get_account(session, account_id)
    return AdminAccountOut.of(directory.rows_for(session, [account])[0])


def _invite_out(request: Request, issued: IssuedInvite) -> OwnerInviteOut:
    return OwnerInviteOut(email=issued.row.email, expires_at=issued.row.expires_at,
                          url=str(request.base_url).rstrip("/") + issued.path)


@router.get("/accounts")
def admin_list_accounts(session: SessionDep, admin: ApiAdmin,
                        q: Annotated[Text, Query(max_length=200)] = "",
                        only: directory.AccountFilter = directory.AccountFilter.ALL,
                        ) -> list[AdminAccountOut]:
    """Accounts by name or owner email (``q``), newest first; ``only``: suspended · low."""
    return [AdminAccountOut.of(r)
            for r in directory.list_accounts(session, query=q, only=only)]


@router.get("/accounts/{account_id}")
def admin_get_account(account_id: int, session: SessionDep, admin: ApiAdmin) -> AdminAccountOut:
    return _one(session, account_id)


@router.post("/accounts", status_code=201)
def admin_create_account(body: ConciergeIn, request: Request, session: SessionDep,
                         admin: ApiAdmin) -> ConciergeOut:
    """A concierge account with its roster and credits, and its owner's one-time invite
    link (only in this answer)."""
    allowance = service.parse_credits(str(body.credit_allowance), field="credit_allowance")
    account, issued = service.create_concierge(
        session, admin, name=body.name, owner_email=body.email, credit_allowance=allowance,
        plan_notes=body.plan_notes, starter=body.starter)
    return ConciergeOut(account=_one(session, account.id),
                        owner_invite=_invite_out(request, issued))


@router.post("/accounts/{account_id}/owner-invites", status_code=201)
def admin_invite_owner(account_id: int, body: OwnerInviteIn, request: Request,
                       session: SessionDep, admin: ApiAdmin) -> OwnerInviteOut:
    """A fresh owner link (the first expired, or a second owner is wanted)."""
    return _invite_out(request, service.invite_owner(session, admin, account_id, body.email))


@router.post("/accounts/{account_id}/credits")
def admin_change_credits(account_id: int, body: CreditsIn, session: SessionDep,
                         admin: ApiAdmin,
                         idempotency_key: IdempotencyKey = None) -> CreditsOut:
    """Grant (positive ``amount``) or correct (negative, with a ``reason``) the balance.
    Send an ``Idempotency-Key`` so a retried request is applied exactly once."""
    amount = service.parse_credits(str(body.amount), allow_negative=True)
    applied = service.change_credits(session, admin, account_id, amount=amount,
                                     reason=body.reason, key=idempotency_key)
    return CreditsOut(applied=applied,
                      credit_balance=service.get_account(session, account_id).credit_balance)


@router.put("/accounts/{account_id}/share")
def admin_set_share(account_id: int, body: ShareIn, session: SessionDep,
                    admin: ApiAdmin) -> AdminAccountOut:
    """Cards the account may run at once (``null``: the default) and its turn's weight."""
    service.set_share(session, account_id,
                      max_running="" if body.max_running is None else str(body.max_running),
                      weight=str(body.share_weight))
    return _one(session, account_id)


@router.post("/accounts/{account_id}/suspend")
def admin_suspend_account(account_id: int, session: SessionDep,
                          admin: ApiAdmin) -> AdminAccountOut:
    """Members and tokens keep reading; nothing new starts (a repeat changes nothing)."""
    service.set_status(session, account_id, AccountStatus.SUSPENDED)
    return _one(session, account_id)


@router.post("/accounts/{account_id}/reactivate")
def admin_reactivate_account(account_id: int, session: SessionDep,
                             admin: ApiAdmin) -> AdminAccountOut:
    service.set_status(session, account_id, AccountStatus.ACTIVE)
    return _one(session, account_id)


@router.get("/accounts/{account_id}/archive", response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}},
                             "description": "The account's data as a zip."}})
def admin_download_archive(account_id: int, session: SessionDep, admin: ApiAdmin) -> Response:
    """Everything the account holds (tables as JSON Lines, files, a manifest)."""
    account = service.get_account(session, account_id)
    return StreamingResponse(archive_stream(AccountId(account.id)), media_type="application/zip",
                             headers={"Content-Disposition":
                                      f'attachment; filename="{archive.archive_name(account)}"'})


@router.delete("/accounts/{account_id}", status_code=204, response_class=Response)
def admin_delete_account(account_id: int, session: SessionDep, admin: ApiAdmin,
                         confirm: Annotated[Text, Query(max_length=200,
                                                        description="The account's name.")],
                         ) -> Response:
    """Delete the account now, every row and stored file (no grace period)."""
    account = service.get_account(session, account_id)
    deletion.check_confirmation(account, confirm)
    deletion.delete_account(session, account.id)
    return Response(status_code=204)

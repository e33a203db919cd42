"""JSON API for the account itself, its members, invites and API tokens (owners).

The same services and messages as the Settings pages. Taking access away (removing a
member, revoking an invite or a token) works while the account is suspended, as it
does on the pages; giving access does not.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from web4os.accounts import invites, members, tokens
from web4os.accounts.api_schemas import (
    AccountIn,
    AccountOut,
    InviteIn,
    InviteOut,
    MemberOut,
    RoleIn,
    TokenIn,
    TokenOut,
)
from web4os.accounts.invites import parse_role
from web4os.accounts.models import Account
from web4os.api.deps import ApiOwner, api_context
from web4os.api.openapi import api_router
from web4os.errors import Forbidden
from web4os.tenancy import TenantContext
from web4os.web.deps import SessionDep

router = api_router(None)


def _owner_even_if_suspended(
        ctx: Annotated[TenantContext, Depends(api_context)]) -> TenantContext:
    if ctx.role != "owner":
        raise Forbidden(f"This token's role ({ctx.role}) can't do this; it needs owner.")
    return ctx


ApiRevoke = Annotated[TenantContext, Depends(_owner_even_if_suspended)]


def _account_out(account: Account) -> AccountOut:
    return AccountOut(id=account.id, name=account.name, kind=account.kind.value,
                      status=account.status.value, time_zone=account.time_zone,
                      credit_balance=account.credit_balance, created_at=account.created_at)


@router.get("/account", tags=["account"], operation_id="get_account")
def get_account(session: SessionDep, ctx: ApiOwner) -> AccountOut:
    account = session.get(Account, ctx.account_id)
    assert account is not None
    return _account_out(account)


@router.patch("/account", tags=["account"], operation_id="update_account")
def update_account(body: AccountIn, session: SessionDep, ctx: ApiOwner) -> AccountOut:
    """Rename the account or change its time zone."""
    account = session.get(Account, ctx.account_id)
    assert account is not None
    return _account_out(members.update_account(
        session, ctx, account.name if body.name is None else body.name, body.time_zone))


@router.get("/members", tags=["members"], operation_id="list_members")
def list_members(session: SessionDep, ctx: ApiOwner) -> list[MemberOut]:
    return [MemberOut.of(m) for m in members.list_members(session, ctx.account_id)]


@router.put("/members/{membership_id}/role", tags=["members"], operation_id="change_member_role")
def change_role(membership_id: int, body: RoleIn, session: SessionDep,
                ctx: ApiOwner) -> MemberOut:
    """The account's last owner stays an owner (409)."""
    return MemberOut.of(members.change_role(session, ctx, membership_id, body.role))


@router.delete("/members/{membership_id}", tags=["members"], status_code=204, operation_id="remove_member")
def remove_member(membership_id: int, session: SessionDep, ctx: ApiRevoke) -> Response:
    members.remove_member(session, ctx, membership_id)
    return Response(status_code=204)


@router.get("/invites", tags=["members"], operation_id="list_invites")
def list_invites(session: SessionDep, ctx: ApiOwner) -> list[InviteOut]:
    """Invites not yet accepted, revoked or expired."""
    return [InviteOut.of(i) for i in invites.pending_invites(session, ctx.account_id)]


@router.post("/invites", tags=["members"], status_code=201, operation_id="create_invite")
def create_invite(body: InviteIn, request: Request, session: SessionDep,
                  ctx: ApiOwner) -> InviteOut:
    """The link (``url``) is in this answer only; send it to the person yourself."""
    issued = invites.create_invite(session, ctx, email=body.email, role=body.role)
    return InviteOut.of(issued.row, str(request.base_url).rstrip("/") + issued.path)


@router.delete("/invites/{invite_id}", tags=["members"], status_code=204, operation_id="revoke_invite")
def revoke_invite(invite_id: int, session: SessionDep, ctx: ApiRevoke) -> Response:
    invites.revoke_invite(session, ctx, invite_id)
    return Response(status_code=204)


@router.get("/tokens", tags=["tokens"], operation_id="list_tokens")
def list_tokens(session: SessionDep, ctx: ApiOwner) -> list[TokenOut]:
    return [TokenOut.of(t) for t in tokens.list_tokens(session, ctx.account_id)]


@router.post("/tokens", tags=["tokens"], status_code=201, operation_id="create_token")
def create_token(body: TokenIn, session: SessionDep, ctx: ApiOwner) -> TokenOut:
    """The ``secret`` is in this answer only; it is never shown again."""
    issued = tokens.create_token(session, ctx, name=body.name, role=parse_role(body.role))
    return TokenOut.of(issued.row, issued.secret)


@router.delete("/tokens/{token_id}", tags=["tokens"], status_code=204, operation_id="revoke_token")
def revoke_token(token_id: int, session: SessionDep, ctx: ApiRevoke) -> Response:
    tokens.revoke_token(session, ctx, token_id)
    return Response(status_code=204)

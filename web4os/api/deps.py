"""Bearer-token authentication for the JSON API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from web4os.accounts.deps import refuse_if_suspended
from web4os.accounts.models import Role
from web4os.accounts.tokens import resolve_token
from web4os.errors import Forbidden, NotAuthenticated
from web4os.tenancy import AccountId, TenantContext, bind_account
from web4os.web.deps import SessionDep

_bearer = HTTPBearer(auto_error=False, description="An API token created on the Settings page.")


def api_context(
    request: Request,
    session: SessionDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TenantContext:
    """The account and role of the bearer token."""
    if creds is None:
        raise NotAuthenticated("Send an API token: Authorization: Bearer w4_…")
    found = resolve_token(session, creds.credentials)
    if found is None:
        raise NotAuthenticated("That API token is not valid (revoked or mistyped).")
    token, account = found
    bind_account(session, AccountId(account.id))
    request.state.api_account = account
    return TenantContext(account_id=AccountId(account.id), user_id=token.created_by_id,
                         role=token.role.value, actor=f"token:{token.name}")


def _at_least(role: Role) -> object:
    def dep(request: Request, ctx: Annotated[TenantContext, Depends(api_context)]) -> TenantContext:
        if not Role(ctx.role).at_least(role):
            raise Forbidden(f"This token's role ({ctx.role}) can't do this; it needs {role.value}.")
        if role != Role.VIEWER:
            refuse_if_suspended(request, request.state.api_account)
        return ctx

    return dep


ApiReader = Annotated[TenantContext, Depends(_at_least(Role.VIEWER))]
ApiOperator = Annotated[TenantContext, Depends(_at_least(Role.OPERATOR))]
ApiOwner = Annotated[TenantContext, Depends(_at_least(Role.OWNER))]

"""Bearer-token authentication for the JSON API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from web4os.accounts.deps import refuse_if_suspended
from web4os.accounts.models import Role, User
from web4os.accounts.tokens import TOKEN_PREFIX, resolve_token
from web4os.admin.tokens import ADMIN_TOKEN_PREFIX, resolve_admin_token
from web4os.errors import Forbidden, NotAuthenticated
from web4os.tenancy import AccountId, TenantContext, bind_account, bind_system
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
    if creds.credentials.startswith(ADMIN_TOKEN_PREFIX):
        raise Forbidden("This is an admin token: it works on /api/v1/admin only, never "
                        "inside an account. Use one of the account's API tokens here.")
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


def admin_api_user(
    request: Request,
    session: SessionDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The platform admin behind an admin token; the session works across accounts."""
    if creds is None:
        raise NotAuthenticated("Send an admin token: Authorization: Bearer w4a_…")
    if creds.credentials.startswith(TOKEN_PREFIX):
        raise Forbidden("This is an account's API token: /api/v1/admin takes an admin token "
                        "(made on the admin console).")
    found = resolve_admin_token(session, creds.credentials)
    if found is None:
        raise NotAuthenticated("That admin token is not valid (revoked, mistyped, or its "
                               "admin is no longer one).")
    token, admin = found
    bind_system(session)
    request.state.admin_token = token
    return admin


ApiReader = Annotated[TenantContext, Depends(_at_least(Role.VIEWER))]
ApiOperator = Annotated[TenantContext, Depends(_at_least(Role.OPERATOR))]
ApiOwner = Annotated[TenantContext, Depends(_at_least(Role.OWNER))]
ApiAdmin = Annotated[User, Depends(admin_api_user)]

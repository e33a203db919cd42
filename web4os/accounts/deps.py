"""Who is asking: the logged-in person, which account, which role, and the CSRF check.

Routes declare their permission in their signature (``OperatorCtx``,
``OwnerCtx``…); the role check, and for any change the account being active,
are enforced here, on the server, for every page and action.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from web4os.accounts import service as accounts
from web4os.accounts.models import Account, AccountStatus, Role, User, WebSession
from web4os.accounts.security import same
from web4os.config import get_settings
from web4os.errors import AccountSuspended, CsrfFailed, Forbidden, NotAuthenticated, NotFound
from web4os.tenancy import AccountId, TenantContext, bind_account, bind_system
from web4os.web.csrf import csrf_token_for
from web4os.web.deps import SessionDep
from web4os.web.forms import posted_form

SESSION_COOKIE = "w4_session"


def logged_in(token: str, target: str = "/") -> RedirectResponse:
    """Go to ``target`` with the new login's cookie set."""
    resp = RedirectResponse(target, status_code=303)
    settings = get_settings()
    resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                    secure=settings.secure_cookies, max_age=settings.session_days * 86400)
    return resp


@dataclass(frozen=True)
class Viewer:
    """The logged-in person and the account they are looking at."""

    user: User
    web_session: WebSession
    account: Account | None
    role: Role | None

    @property
    def ctx(self) -> TenantContext:
        if self.account is None or self.role is None:
            raise Forbidden("Pick an account first.")
        return TenantContext(account_id=AccountId(self.account.id), user_id=self.user.id,
                             role=self.role.value, actor=f"user:{self.user.email}")


def optional_viewer(request: Request, session: SessionDep) -> Viewer | None:
    """The viewer if a valid session cookie is present (and binds the tenant)."""
    row = accounts.resolve_session(session, request.cookies.get(SESSION_COOKIE, ""))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None:
        return None
    account, role = None, None
    if row.account_id is not None:
        member = accounts.membership(session, user.id, row.account_id)
        if member is not None:
            account, role = member.account, member.role
    if account is None:
        first = next(iter(accounts.memberships_of(session, user.id)), None)
        if first is not None:
            account, role = first.account, first.role
            row.account_id = first.account_id
    if account is not None:
        bind_account(session, AccountId(account.id), user_id=user.id)
    request.state.viewer = Viewer(user, row, account, role)
    return request.state.viewer  # type: ignore[no-any-return]


def current_viewer(viewer: Annotated[Viewer | None, Depends(optional_viewer)]) -> Viewer:
    if viewer is None:
        raise NotAuthenticated("Please log in.")
    return viewer


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def refuse_if_suspended(request: Request, account: Account) -> None:
    """A suspended account is read, not acted on: any request that could change something
    is refused here, for pages and the API alike."""
    if request.method not in READ_METHODS and account.status != AccountStatus.ACTIVE:
        raise AccountSuspended()


def _ctx_at_least(role: Role, *, while_suspended: bool = False) -> object:
    def dep(request: Request, viewer: ViewerDep) -> TenantContext:
        if viewer.account is None or viewer.role is None:
            raise NotFound("You don't belong to an account yet.")
        if not viewer.role.at_least(role):
            raise Forbidden(f"Your role ({viewer.role.value}) can't do this; ask an account "
                            f"owner for {role.value} access.", needs=role.value)
        if role != Role.VIEWER and not while_suspended:
            refuse_if_suspended(request, viewer.account)
        return viewer.ctx

    return dep


ReaderCtx = Annotated[TenantContext, Depends(_ctx_at_least(Role.VIEWER))]
OperatorCtx = Annotated[TenantContext, Depends(_ctx_at_least(Role.OPERATOR))]
OwnerCtx = Annotated[TenantContext, Depends(_ctx_at_least(Role.OWNER))]
# An owner taking access away (revoking a token or an invite, removing a member): allowed
# while the account is suspended too, since its tokens and members can still read it.
RevokeAccessCtx = Annotated[TenantContext,
                            Depends(_ctx_at_least(Role.OWNER, while_suspended=True))]


def admin_user(viewer: ViewerDep, session: SessionDep) -> User:
    """Platform admins only; everyone else gets a plain 404 (the console is not advertised).

    The admin console works across accounts, so its session leaves the tenant wall
    deliberately (``bind_system``).
    """
    if not viewer.user.is_platform_admin:
        raise NotFound("There's nothing here. Check the address, or go back to your goals.")
    bind_system(session)
    return viewer.user


AdminDep = Annotated[User, Depends(admin_user)]


# --- CSRF -----------------------------------------------------------------------

def verify_csrf(
    request: Request,
    form: Annotated[FormData | None, Depends(posted_form)],
    _viewer: Annotated[Viewer | None, Depends(optional_viewer)],
) -> None:
    """Every state-changing form or htmx post must carry the CSRF token.

    The form comes first in the signature: its body is read before the viewer's lookup
    opens the request's transaction.
    """
    sent = request.headers.get("X-CSRF-Token", "")
    if not sent and form is not None:
        sent = str(form.get("csrf_token", ""))
    expected = csrf_token_for(request)
    if not expected or not sent or not same(sent, expected):
        raise CsrfFailed("This form expired or was sent from elsewhere. Reload the page and "
                         "try again.")


CsrfDep = Depends(verify_csrf)

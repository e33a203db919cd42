"""JSON API for admin tokens (admin tokens themselves may list, make and revoke them,
as an admin does on the console's token page)."""

from __future__ import annotations

from fastapi import Response

from web4os.admin.api_schemas import AdminTokenIn, AdminTokenOut
from web4os.admin.tokens import create_admin_token, list_admin_tokens, revoke_admin_token
from web4os.api.deps import ApiAdmin
from web4os.api.openapi import api_router
from web4os.web.deps import SessionDep

router = api_router("admin", prefix="/api/v1/admin")


@router.get("/tokens")
def admin_list_tokens(session: SessionDep, admin: ApiAdmin) -> list[AdminTokenOut]:
    return [AdminTokenOut.of(t) for t in list_admin_tokens(session)]


@router.post("/tokens", status_code=201)
def admin_create_token(body: AdminTokenIn, session: SessionDep,
                       admin: ApiAdmin) -> AdminTokenOut:
    """The ``secret`` is in this answer only; it is never shown again."""
    issued = create_admin_token(session, admin, name=body.name)
    return AdminTokenOut.of(issued.row, issued.secret)


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response)
def admin_revoke_token(token_id: int, session: SessionDep, admin: ApiAdmin) -> Response:
    revoke_admin_token(session, token_id)
    return Response(status_code=204)

"""The admin console's data actions for any account: its archive, and deletion now
(cutting an owner's grace period short, or without one). Admins only (404 to others)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from web4os.accountdata import archive, deletion
from web4os.accountdata.routes import archive_stream
from web4os.accounts.deps import AdminDep, CsrfDep
from web4os.admin import service as admin
from web4os.admin.routes import refused_page
from web4os.errors import DomainError
from web4os.tenancy import AccountId
from web4os.text import check_form
from web4os.web.deps import SessionDep
from web4os.web.forms import FormValues

router = APIRouter(prefix="/admin")


@router.get("/accounts/{account_id}/archive.zip")
def admin_archive(account_id: int, session: SessionDep, admin_user: AdminDep) -> Response:
    account = admin.get_account(session, account_id)
    return StreamingResponse(archive_stream(AccountId(account.id)), media_type="application/zip",
                             headers={"Content-Disposition":
                                      f'attachment; filename="{archive.archive_name(account)}"'})


@router.post("/accounts/{account_id}/delete", dependencies=[CsrfDep])
def admin_delete(request: Request, account_id: int, session: SessionDep, admin_user: AdminDep,
                 values: FormValues) -> Response:
    account = admin.get_account(session, account_id)
    try:
        check_form(values)
        deletion.check_confirmation(account, values.get("confirm", ""))
    except DomainError as exc:
        return refused_page(request, session, account_id, values, exc)
    deletion.delete_account(session, account.id)
    return RedirectResponse("/admin?deleted=1", status_code=303)

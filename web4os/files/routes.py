"""File downloads and the Knowledge page (/knowledge). Thin: parse, call the service,
render. Everyone in the account reads; owners manage knowledge; operators a goal's files."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from web4os.accounts.deps import CsrfDep, OperatorCtx, OwnerCtx, ReaderCtx, ViewerDep
from web4os.accounts.models import Role
from web4os.config import get_settings
from web4os.errors import DomainError
from web4os.files import service
from web4os.files.models import StoredFile
from web4os.tenancy import AccountId
from web4os.text import check_form
from web4os.web.deps import SessionDep
from web4os.web.forms import UploadForm, field_errors
from web4os.web.templating import render

router = APIRouter()


def attachment(data: bytes, name: str, content_type: str) -> Response:
    """Bytes as a download, never rendered in the page: attachment, nosniff, no caching."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_"
                       for c in name) or "download"
    return Response(data, media_type=content_type, headers={
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; "
                               f"filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    })


def download(row: StoredFile) -> Response:
    return attachment(service.read_bytes(row), row.name, row.content_type)


@router.get("/files/{file_id}/download")
def download_file(file_id: int, session: SessionDep, ctx: ReaderCtx) -> Response:
    return download(service.get_file(session, ctx.account_id, file_id))


@router.post("/files/{file_id}/delete", dependencies=[CsrfDep])
def delete_file(file_id: int, session: SessionDep, ctx: OperatorCtx) -> Response:
    """Operators delete a goal's files, owners knowledge files (the service checks which)."""
    row = service.delete_file(session, ctx, file_id)
    target = "/knowledge" if row.goal_id is None else f"/goals/{row.goal_id}"
    return RedirectResponse(target, status_code=303)


def _knowledge_page(request: Request, session: Session, viewer: ViewerDep,
                    account_id: AccountId, *, errors: dict[str, str] | None = None,
                    status_code: int = 200) -> Response:
    settings = get_settings()
    return render(request, "files/knowledge.html", {
        "files": service.list_files(session, account_id, knowledge=True),
        "can_edit": viewer.role is not None and viewer.role.at_least(Role.OWNER),
        "errors": errors or {}, "used": service.usage_bytes(session, account_id),
        "quota": settings.storage_quota_bytes, "max_file": settings.max_file_bytes,
    }, status_code=status_code)


@router.get("/knowledge")
def knowledge_page(request: Request, session: SessionDep, ctx: ReaderCtx,
                   viewer: ViewerDep) -> Response:
    return _knowledge_page(request, session, viewer, ctx.account_id)


@router.post("/knowledge", dependencies=[CsrfDep])
def add_knowledge(request: Request, upload: UploadForm, session: SessionDep, ctx: OwnerCtx,
                  viewer: ViewerDep) -> Response:
    try:
        check_form(upload.values)
        stored = service.upload_many(session, ctx, upload.files)
    except DomainError as exc:
        session.rollback()
        return _knowledge_page(request, session, viewer, ctx.account_id,
                               errors=field_errors(exc), status_code=exc.status_code)
    return RedirectResponse(f"/knowledge?added={len(stored)}", status_code=303)


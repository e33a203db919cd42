"""The Playbook page (/playbook, linked from Settings): export, and import with a preview
(the document waits for the confirm in ``files.held``). Owners only, as for the
roster. Thin: parse, call the service, render.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from web4os.accounts.deps import CsrfDep, OwnerCtx
from web4os.errors import InvalidInput
from web4os.files import held
from web4os.files.routes import attachment
from web4os.playbooks import export, service
from web4os.playbooks.loader import PlaybookInvalid, Problem
from web4os.playbooks.plan import OnCollision, PlanOut
from web4os.text import check_form
from web4os.web.deps import SessionDep
from web4os.web.forms import FormValues, UploadForm
from web4os.web.templating import render

router = APIRouter()
HELD = "playbook"
def _page(request: Request, *, values: dict[str, str] | None = None,
          problems: list[Problem] | None = None, status_code: int = 200) -> Response:
    return render(request, "playbooks/index.html", {
        "values": values or {"on_collision": "rename", "files": "reference"},
        "problems": problems or [], "policies": list(OnCollision),
        "file_choices": export.FILE_CHOICES}, status_code=status_code)


@router.get("/playbook")
def playbook_page(request: Request, ctx: OwnerCtx) -> Response:
    return _page(request)


@router.get("/playbook/export")
def export_playbook(session: SessionDep, ctx: OwnerCtx, files: str = "reference") -> Response:
    if files not in export.FILE_CHOICES:
        raise InvalidInput("Choose reference or embed.", field="files")
    text = export.export_text(session, ctx.account_id, files_choice=files)  # type: ignore[arg-type]
    return attachment(text.encode("utf-8"), "playbook.yaml", "application/yaml")


def _document(upload_values: dict[str, str], files: list[tuple[str, bytes]]) -> bytes:
    if files:
        return files[0][1]
    text = upload_values.get("document", "")
    if not text.strip():
        raise PlaybookInvalid([Problem(None, "document",
                                       "Choose a playbook file, or paste one.")])
    return text.encode("utf-8")


def _refused(request: Request, session: Session, values: dict[str, str],
             exc: PlaybookInvalid) -> Response:
    session.rollback()
    return _page(request, values={k: v for k, v in values.items() if k != "csrf_token"},
                 problems=exc.problems, status_code=422)


@router.post("/playbook/preview", dependencies=[CsrfDep])
def preview(request: Request, upload: UploadForm, session: SessionDep,
            ctx: OwnerCtx) -> Response:
    values = upload.values
    try:
        check_form(values)
        policy = service.parse_policy(values.get("on_collision", "rename"))
        data = _document(values, upload.files)
        plan = service.preview(session, ctx, data, policy)
    except PlaybookInvalid as exc:
        return _refused(request, session, values, exc)
    return render(request, "playbooks/preview.html", {
        "plan": plan, "preview_id": held.keep(ctx.account_id, HELD, data), **_shown(plan)})


def _shown(plan: PlanOut) -> dict[str, Any]:
    return {"nothing": not any(s.create or s.change for s in plan.sections)}


@router.post("/playbook/import", dependencies=[CsrfDep])
def confirm_import(request: Request, values: FormValues, session: SessionDep,
                   ctx: OwnerCtx) -> Response:
    check_form(values)
    data = held.take(ctx.account_id, HELD, values.get("preview_id", ""))
    try:
        policy = service.parse_policy(values.get("on_collision", "rename"))
        plan = service.import_playbook(session, ctx, data, policy)
    except PlaybookInvalid as exc:
        return _refused(request, session, {"on_collision": values.get("on_collision", "")}, exc)
    held.drop(ctx.account_id, HELD)
    return render(request, "playbooks/result.html", {"plan": plan, **_shown(plan)})


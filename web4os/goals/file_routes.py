"""A goal's files on its page: operators attach more (the list and downloads are on the
goal page and under /files). Thin: parse, call the services, render."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from web4os.accounts.deps import CsrfDep, OperatorCtx
from web4os.errors import DomainError
from web4os.files import service as files
from web4os.goals import service
from web4os.goals.routes import _board_context
from web4os.text import check_form
from web4os.web.deps import SessionDep
from web4os.web.forms import UploadForm, field_errors
from web4os.web.templating import render

router = APIRouter()


@router.post("/goals/{goal_id}/files", dependencies=[CsrfDep])
def attach_files(request: Request, goal_id: int, upload: UploadForm, session: SessionDep,
                 ctx: OperatorCtx) -> Response:
    """Attach files to a goal; a refused file leaves none of this form's files stored."""
    goal = service.get_goal(session, ctx.account_id, goal_id)
    try:
        check_form(upload.values)
        files.upload_many(session, ctx, upload.files, goal=goal)
    except DomainError as exc:
        if exc.field is None:
            raise
        session.rollback()
        resp = render(request, "goals/board.html", {
            **_board_context(request, session, ctx, goal_id),
            "file_errors": field_errors(exc)}, status_code=exc.status_code)
        resp.headers["HX-Push-Url"] = f"/goals/{goal_id}"
        return resp
    return RedirectResponse(f"/goals/{goal_id}#files", status_code=303)

"""The goal report page, its Markdown download and each card's deliverable as Markdown.
Thin: call the report service, render or hand over a file."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from web4os.accounts.deps import ReaderCtx
from web4os.files.routes import attachment
from web4os.goals import report
from web4os.web.deps import SessionDep
from web4os.web.templating import render

router = APIRouter()
MARKDOWN = "text/markdown; charset=utf-8"


@router.get("/goals/{goal_id}/report")
def report_page(request: Request, goal_id: int, session: SessionDep, ctx: ReaderCtx) -> Response:
    return render(request, "goals/report.html",
                  {"report": report.goal_report(session, ctx.account_id, goal_id)})


@router.get("/goals/{goal_id}/report.md")
def report_download(goal_id: int, session: SessionDep, ctx: ReaderCtx) -> Response:
    r = report.goal_report(session, ctx.account_id, goal_id)
    return attachment(report.report_markdown(r).encode(), f"{report.slug(r.goal.title)}.md",
                      MARKDOWN)


@router.get("/tasks/{task_id}/deliverable.md")
def deliverable_download(task_id: int, session: SessionDep, ctx: ReaderCtx) -> Response:
    name, text = report.card_download(session, ctx.account_id, task_id)
    return attachment(text.encode(), name, MARKDOWN)

"""JSON API v1 for results to take away: a goal's report (JSON or Markdown) and a card's
deliverable as Markdown. Everyone with a token of the account reads them."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel

from web4os.api.deps import ApiReader
from web4os.api.openapi import api_router
from web4os.files.routes import attachment
from web4os.goals import report
from web4os.web.deps import SessionDep

router = api_router("reports")
MARKDOWN = "text/markdown; charset=utf-8"
_AS_MARKDOWN: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/markdown": {}}, "description": "A Markdown file."}}


class MadeFileOut(BaseModel):
    id: int
    name: str
    download_url: str


class ReportCardOut(BaseModel):
    task_id: int
    title: str
    agent: str
    credits: int
    files_used: list[str]
    files_made: list[MadeFileOut]
    deliverable: str


class ReportOut(BaseModel):
    goal_id: int
    title: str
    status: str
    finished: bool
    credits_spent: int
    summary: str
    cards: list[ReportCardOut]


@router.get("/goals/{goal_id}/report")
def goal_report(goal_id: int, session: SessionDep, ctx: ApiReader) -> ReportOut:
    """The CEO's summary, then each finished card's deliverable in plan order."""
    r = report.goal_report(session, ctx.account_id, goal_id)
    return ReportOut(goal_id=r.goal.id, title=r.goal.title, status=r.goal.status.value,
                     finished=r.finished, credits_spent=r.goal.credits_spent,
                     summary=r.goal.summary, cards=[
                         ReportCardOut(task_id=c.id, title=c.title, agent=c.agent,
                                       credits=c.credits, files_used=c.files,
                                       files_made=[MadeFileOut(
                                           id=f.id, name=f.name,
                                           download_url=f"/api/v1/files/{f.id}/download")
                                           for f in c.made],
                                       deliverable=c.deliverable) for c in r.cards])


@router.get("/goals/{goal_id}/report.md", response_class=Response, responses=_AS_MARKDOWN)
def goal_report_markdown(goal_id: int, session: SessionDep, ctx: ApiReader) -> Response:
    r = report.goal_report(session, ctx.account_id, goal_id)
    return attachment(report.report_markdown(r).encode(), f"{report.slug(r.goal.title)}.md",
                      MARKDOWN)


@router.get("/tasks/{task_id}/deliverable.md", response_class=Response, responses=_AS_MARKDOWN)
def deliverable_markdown(task_id: int, session: SessionDep, ctx: ApiReader) -> Response:
    name, text = report.card_download(session, ctx.account_id, task_id)
    return attachment(text.encode(), name, MARKDOWN)

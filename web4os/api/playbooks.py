"""JSON API v1 for playbooks: the schema, export, preview and import. Owners only (a
playbook changes the roster and budgets), like the pages; the same services.

Preview and import take the YAML document as the request body (``application/yaml``,
``text/yaml`` or ``text/plain``); errors answer 422 with each problem's line and field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Body, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from web4os.api.deps import ApiOwner
from web4os.api.openapi import PREFIX, api_router
from web4os.playbooks import export, service
from web4os.playbooks.loader import PlaybookInvalid
from web4os.playbooks.plan import OnCollision, PlanOut
from web4os.playbooks.schemas import json_schema
from web4os.web.deps import SessionDep

router = api_router("playbooks", prefix=f"{PREFIX}/playbooks")


class ProblemOut(BaseModel):
    line: int | None
    field: str
    message: str


class PlaybookErrorOut(BaseModel):
    """A refused playbook: ``detail`` sums it up, ``errors`` lists each problem."""

    detail: str
    field: str
    errors: list[ProblemOut]


YAML_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/yaml": {"schema": {"type": "string"}},
    "text/plain": {"schema": {"type": "string"}}}}}
Document = Annotated[bytes, Body(media_type="application/yaml")]


def refused(session: Session, exc: PlaybookInvalid) -> JSONResponse:
    """The problems as JSON; the request's writes (files stored too) are rolled back."""
    session.rollback()
    return JSONResponse(status_code=422, content=PlaybookErrorOut(
        detail=exc.message, field="playbook",
        errors=[ProblemOut(line=p.line, field=p.field, message=p.message)
                for p in exc.problems]).model_dump())


@router.get("/schema", operation_id="playbook_schema")
def playbook_schema() -> dict[str, Any]:
    """The JSON Schema of playbook version 1 (also shipped as ``web4os/playbooks/schema.json``)."""
    return json_schema()


class StarterOut(BaseModel):
    key: str
    name: str
    description: str


@router.get("/starters", operation_id="list_starter_playbooks")
def list_starters() -> list[StarterOut]:
    """The starter playbooks shipped with the product: the keys signup and concierge
    creation take (``blank`` is the default team, without a playbook)."""
    return [StarterOut(key=s.key, name=s.name, description=s.description)
            for s in service.starters()]


@router.get("/export", operation_id="export_playbook", response_class=Response,
            responses={200: {"content": {"application/yaml": {"schema": {"type": "string"}}},
                             "description": "The account's playbook, without secrets."}})
def export_playbook(session: SessionDep, ctx: ApiOwner,
                    files: Literal["reference", "embed"] = "reference") -> Response:
    """The account's setup as YAML: knowledge files by reference (name, size, sha256) or
    embedded (base64)."""
    text = export.export_text(session, ctx.account_id, files_choice=files)
    return Response(text, media_type="application/yaml", headers={
        "Content-Disposition": 'attachment; filename="playbook.yaml"',
        "Cache-Control": "private, no-store"})


@router.post("/preview", operation_id="preview_playbook",
             openapi_extra=YAML_BODY, response_model=PlanOut)
def preview_playbook(body: Document, session: SessionDep, ctx: ApiOwner,
                     on_collision: Annotated[OnCollision, Query()] = OnCollision.RENAME,
                     ) -> PlanOut | JSONResponse:
    """What importing the document would create, change and skip, and what is left to
    fill in. Nothing is written."""
    try:
        return service.preview(session, ctx, body, on_collision)
    except PlaybookInvalid as exc:
        return refused(session, exc)


@router.post("/import", operation_id="import_playbook",
             openapi_extra=YAML_BODY, response_model=PlanOut)
def import_playbook(body: Document, session: SessionDep, ctx: ApiOwner,
                    on_collision: Annotated[OnCollision, Query()] = OnCollision.RENAME,
                    ) -> PlanOut | JSONResponse:
    """Import the document in one transaction (all or nothing); routines start paused.
    New webhook endpoints' signing secrets are in ``new_secrets``, shown this once."""
    try:
        return service.import_playbook(session, ctx, body, on_collision)
    except PlaybookInvalid as exc:
        return refused(session, exc)

"""JSON API v1 for files: a goal's attachments and the account's knowledge. Viewers read
and download; operators attach to goals; owners manage knowledge."""

from __future__ import annotations

from typing import Annotated

from fastapi import File, UploadFile
from fastapi.responses import Response

from web4os.api.deps import ApiOperator, ApiOwner, ApiReader
from web4os.api.openapi import api_router
from web4os.files import service as files
from web4os.files.routes import download
from web4os.files.schemas import FileOut
from web4os.goals import service as goals
from web4os.web.deps import SessionDep

router = api_router("files")

# Optional in the schema so the goal is looked up first (another account's goal is a 404
# whatever the body) and a missing file gets the service's own message.
Uploads = Annotated[list[UploadFile] | None, File(alias="files",
                                                  description="One or more files.")]


def _read(uploads: list[UploadFile] | None) -> list[tuple[str, bytes]]:
    """The uploads as (name, bytes); the request's body limit bounds what is read."""
    return [(u.filename or "", u.file.read()) for u in uploads or []]


@router.get("/goals/{goal_id}/files")
def goal_files(goal_id: int, session: SessionDep, ctx: ApiReader) -> list[FileOut]:
    goals.get_goal(session, ctx.account_id, goal_id)
    return [FileOut.of(f) for f in files.list_files(session, ctx.account_id, goal_id=goal_id)]


@router.post("/goals/{goal_id}/files", status_code=201)
def attach_files(goal_id: int, session: SessionDep, ctx: ApiOperator,
                 upload: Uploads = None) -> list[FileOut]:
    """Attach files (multipart field ``files``): all of them, or none if one is refused."""
    goal = goals.get_goal(session, ctx.account_id, goal_id)
    return [FileOut.of(f) for f in files.upload_many(session, ctx, _read(upload), goal=goal)]


@router.get("/knowledge")
def knowledge_files(session: SessionDep, ctx: ApiReader) -> list[FileOut]:
    return [FileOut.of(f) for f in files.list_files(session, ctx.account_id, knowledge=True)]


@router.post("/knowledge", status_code=201)
def add_knowledge(session: SessionDep, ctx: ApiOwner,
                  upload: Uploads = None) -> list[FileOut]:
    """Add files to the account's knowledge (multipart field ``files``)."""
    return [FileOut.of(f) for f in files.upload_many(session, ctx, _read(upload))]


@router.get("/files/{file_id}")
def get_file(file_id: int, session: SessionDep, ctx: ApiReader) -> FileOut:
    return FileOut.of(files.get_file(session, ctx.account_id, file_id))


@router.get("/files/{file_id}/download", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "The file, as an attachment."}})
def download_file(file_id: int, session: SessionDep, ctx: ApiReader) -> Response:
    return download(files.get_file(session, ctx.account_id, file_id))


@router.delete("/files/{file_id}", status_code=204, response_class=Response)
def delete_file(file_id: int, session: SessionDep, ctx: ApiOperator) -> Response:
    """Delete a file and its bytes (knowledge files: owners only)."""
    files.delete_file(session, ctx, file_id)
    return Response(status_code=204)

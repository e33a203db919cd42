"""What the API says about a file."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from web4os.files.models import StoredFile


class FileOut(BaseModel):
    id: int
    name: str
    kind: str
    content_type: str
    size: int
    goal_id: int | None
    readable: bool
    unreadable_reason: str
    created_at: datetime
    download_url: str

    @classmethod
    def of(cls, row: StoredFile) -> FileOut:
        return cls(id=row.id, name=row.name, kind=row.kind, content_type=row.content_type,
                   size=row.size, goal_id=row.goal_id,
                   readable=bool(row.text) and not row.unreadable_reason,
                   unreadable_reason=row.unreadable_reason, created_at=row.created_at,
                   download_url=f"/api/v1/files/{row.id}/download")

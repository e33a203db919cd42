"""A goal's images as a specialist gets them: the bytes for a model that reads images,
within bounds, else the name and why the model does not see it."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from web4os.errors import NotFound
from web4os.files.models import StoredFile
from web4os.files.service import read_stored, size_words
from web4os.tenancy import AccountId, of_account

MAX_IMAGES = 4  # images one request carries; the model bills each, whatever its size
IMAGE_BYTES = 1_000_000  # one image's bytes at most (base64 makes them a third larger)
NOT_READABLE = "not readable by this agent's model"


@dataclass(frozen=True)
class AgentImage:
    """One of a goal's images: its bytes when the model is shown it, else ``reason``."""

    name: str
    content_type: str
    data: bytes = b""
    reason: str = ""

    @property
    def data_url(self) -> str:
        """The image inline, as OpenAI-compatible endpoints take it ("" when not shown)."""
        if not self.data:
            return ""
        return f"data:{self.content_type};base64,{base64.b64encode(self.data).decode('ascii')}"


def images_for_agents(session: Session, account_id: AccountId, goal_id: int, *,
                      readable: bool) -> list[AgentImage]:
    """The goal's attached images, oldest first; only the first ``MAX_IMAGES`` under
    ``IMAGE_BYTES`` are loaded, and only when the model reads images."""
    rows = session.execute(
        select(StoredFile.storage_key, StoredFile.name, StoredFile.content_type,
               StoredFile.size)
        .where(of_account(StoredFile, account_id), StoredFile.goal_id == goal_id,
               StoredFile.task_id.is_(None), StoredFile.kind == "image")
        .order_by(StoredFile.id)).all()
    images: list[AgentImage] = []
    shown = 0
    for storage_key, name, content_type, size in rows:
        reason = ""
        if not readable:
            reason = NOT_READABLE
        elif size > IMAGE_BYTES:
            reason = f"larger than the {size_words(IMAGE_BYTES)} an image may be for the model"
        elif shown >= MAX_IMAGES:
            reason = f"the model is shown the first {MAX_IMAGES} images only"
        if reason:
            images.append(AgentImage(name, content_type, reason=reason))
            continue
        try:
            data = read_stored(storage_key)  # the query above is the account's
            images.append(AgentImage(name, content_type, data))
            shown += 1
        except NotFound as exc:
            images.append(AgentImage(name, content_type, reason=exc.message))
    return images

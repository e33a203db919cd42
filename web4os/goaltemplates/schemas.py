"""Pydantic shapes for goal templates, in and out (the JSON API; the forms fill the same).

The goal's fields are checked by the goal's own rules (``GoalCreate``), so a template
holds nothing a goal form would refuse, in the same words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator

from web4os.goals.schemas import GoalCreate
from web4os.text import Text

MAX_NAME = 120
MAX_ATTACHMENTS = 20


def as_goal_field(field: str, value: Any) -> Any:
    """``value`` as the goal form would take it for ``field``, or its refusal in its words."""
    try:
        goal = GoalCreate.model_validate({"title": "t", field: value})
    except ValidationError as exc:
        raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
    return getattr(goal, field)


class TemplateIn(BaseModel):
    """A template as submitted: a name of its own and the goal it starts."""

    name: Text
    title: Text
    brief: Text = ""
    require_approval: bool = False
    credit_cap: int | None = Field(default=None, ge=1, le=10_000_000)
    attachments: list[int] = Field(default=[], max_length=MAX_ATTACHMENTS,
                                   description="Ids of the account's files to attach.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v:
            raise ValueError("Give the template a name, e.g. “Weekly newsletter”.")
        if len(v) > MAX_NAME:
            raise ValueError(f"Keep the name under {MAX_NAME} characters.")
        return v

    @field_validator("title", "brief")
    @classmethod
    def _goal_text(cls, v: str, info: ValidationInfo) -> Any:
        return as_goal_field(str(info.field_name), v)

    @field_validator("attachments")
    @classmethod
    def _once_each(cls, v: list[int]) -> list[int]:
        return list(dict.fromkeys(v))


class GoalFromTemplate(BaseModel):
    """Changes for this one goal; a field left out (or null) is the template's, except
    ``credit_cap``, where an explicit null means no cap."""

    title: Text | None = None
    brief: Text | None = None
    require_approval: bool | None = None
    credit_cap: int | None = Field(default=None, ge=1, le=10_000_000)


class AttachmentOut(BaseModel):
    id: int
    name: str
    size: int
    knowledge: bool


class TemplateOut(BaseModel):
    id: int
    name: str
    title: str
    brief: str
    require_approval: bool
    credit_cap: int | None
    attachments: list[AttachmentOut]
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None

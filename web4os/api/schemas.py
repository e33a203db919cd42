"""Request and response bodies of the JSON API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from web4os.text import Text


class FeedbackIn(BaseModel):
    feedback: Text = Field(min_length=1, max_length=4000)


class ReassignIn(BaseModel):
    agent_id: int


class EditIn(BaseModel):
    title: Text = Field(min_length=1, max_length=200)
    instructions: Text = Field(default="", max_length=4000)


class GoalEditIn(BaseModel):
    """A goal's new title and brief (checked by the same rules as a new goal's)."""

    title: Text
    brief: Text = ""


class SimplePlanIn(BaseModel):
    """The specialists of a simple built-in plan: one card each."""

    agent_ids: list[int] = Field(default_factory=list, max_length=200)


class ApproveSelectedIn(BaseModel):
    """The results to approve together (each must still wait for review)."""

    task_ids: list[int] = Field(min_length=1, max_length=200)


class ApprovedOut(BaseModel):
    """Which cards were approved, and which were left (changed meanwhile, or not found)."""

    approved: list[int]
    skipped: list[int]


class AgentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    slug: str
    name: str
    role: str
    model: str
    base_url: str
    instructions: str
    tools: list[str]
    enabled: bool
    is_ceo: bool
    credit_cap: int | None
    monthly_budget: int | None


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    task_id: int | None
    kind: str
    from_status: str | None
    to_status: str | None
    actor: str
    message: str
    data: dict[str, Any]
    created_at: datetime


class LedgerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    amount: int
    balance_after: int
    goal_id: int | None
    task_id: int | None
    reason: str
    created_at: datetime


class MeOut(BaseModel):
    account_id: int
    account_name: str
    role: str
    credit_balance: int
    time_zone: str
    offline_model: bool

"""Pydantic shapes for goals and plans, in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from web4os.config import get_settings
from web4os.text import Text

SLUG = r"^[a-z0-9][a-z0-9_-]{0,39}$"


class GoalCreate(BaseModel):
    """What an operator submits."""

    title: Text
    brief: Text = ""
    require_approval: bool = False
    credit_cap: int | None = Field(default=None, ge=1, le=10_000_000)
    urgent: bool = False  # its cards go ahead of the account's other cards

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        v = " ".join(v.split())
        limit = get_settings().max_goal_title
        if not v:
            raise ValueError("Give the goal a title, e.g. “Launch a newsletter for our bakery”.")
        if len(v) > limit:
            raise ValueError(f"Keep the title under {limit} characters; put details in the brief.")
        return v

    @field_validator("brief")
    @classmethod
    def _brief(cls, v: str) -> str:
        v = v.strip()
        limit = get_settings().max_goal_brief
        if len(v) > limit:
            raise ValueError(f"The brief is too long ({len(v)} characters; the limit is {limit}).")
        return v


class PlannedTask(BaseModel):
    """One task of the CEO agent's plan, before it is saved."""

    model_config = ConfigDict(extra="ignore")

    key: str = Field(pattern=SLUG, description="Short unique id within the plan, e.g. 'research'.")
    title: str = Field(min_length=1, max_length=200)
    # Any name: a near-miss ("Marketer", "marketing") is mapped to the roster before the
    # planning rules check that it is one of the account's specialists.
    agent: str = Field(min_length=1, max_length=80,
                       description="Slug of a specialist from the roster.")
    instructions: str = Field(default="", max_length=4000)
    depends_on: list[str] = Field(default_factory=list, max_length=50)
    estimated_credits: int = Field(ge=1, le=100_000)
    requires_approval: bool = False

    @field_validator("depends_on")
    @classmethod
    def _once_each(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))


class Plan(BaseModel):
    """The CEO agent's decomposition of a goal: a DAG of tasks.

    Read from a list of tasks with keys, or from tasks as slots keyed by position
    (``{"t1": {...}, "t2": {...}}``, the shape plans are asked for in: see
    ``plan_schema``)."""

    model_config = ConfigDict(extra="ignore")

    rationale: str = Field(default="", max_length=4000)
    tasks: list[PlannedTask] = Field(min_length=1, max_length=200)

    @model_validator(mode="before")
    @classmethod
    def _slots(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("tasks"), dict):
            tasks = [{**task, "key": key} if isinstance(task, dict) else task
                     for key, task in data["tasks"].items()]
            return {**data, "tasks": tasks}
        return data


class TaskOut(BaseModel):
    """A card as the API returns it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    goal_id: int
    key: str
    title: str
    status: str
    agent: str
    instructions: str
    output: str
    note: str
    feedback: str
    depends_on: list[int]
    estimated_credits: int
    actual_credits: int
    attempts: int = Field(description="Runs of the card, including those that stopped for "
                                      "the operator (a tool call to approve).")
    tries: int = Field(description="Runs that counted as tries: what "
                                   "WEB4OS_MAX_TASK_ATTEMPTS limits.")
    requires_approval: bool
    updated_at: datetime


class UrgentIn(BaseModel):
    """Mark a goal urgent, or not."""

    urgent: bool


class GoalOut(BaseModel):
    """A goal with its progress, as the API returns it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    brief: str
    status: str
    status_reason: str
    summary: str
    credits_spent: int
    urgent: bool = False
    tasks_total: int
    tasks_done: int
    created_at: datetime
    completed_at: datetime | None
    needs_you: bool = Field(default=False, description=(
        "The goal waits for the operator (status failed): it is not over; take one of "
        "`ways_on`, or cancel it."))
    ways_on: list[str] = Field(default_factory=list, description=(
        "plan_again, edit_goal and simple_plan are routes under /api/v1/goals/{id}/; "
        "switch_ceo_model is done by an owner on the CEO agent's page (/agents/{id})."))
    failed_attempts: int = 0
    failed_attempt_credits: int = Field(default=0, description=(
        "Credits its failed plan and re-plan attempts cost."))

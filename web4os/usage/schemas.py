"""Pydantic shapes for the usage API."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict


class GoalSpendOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    goal_id: int
    title: str
    status: str
    spent: int
    held: int
    cap: int | None


class AgentSpendOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    agent_id: int
    name: str
    slug: str
    spent: int
    held: int
    cap: int | None


class DaySpendOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: date
    credits: int


class UsageOut(BaseModel):
    """``GET /api/v1/credits/usage``: the same numbers as the usage page."""

    model_config = ConfigDict(from_attributes=True)

    account_id: int
    balance: int
    held: int
    spent_total: int
    spent_last_30_days: int
    added_total: int
    by_goal: list[GoalSpendOut]
    by_agent: list[AgentSpendOut]
    by_day: list[DaySpendOut]


class CapIn(BaseModel):
    """A credit cap; ``null`` removes it."""

    credit_cap: int | None = None

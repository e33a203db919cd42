"""Pydantic shapes for routines, in and out (the JSON API; the form fills the same)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from web4os.routines.models import MissedPolicy, OverlapPolicy
from web4os.text import Text


class RoutineIn(BaseModel):
    """A routine as submitted. The schedule is a preset at a time of day (``at``, HH:MM)
    or ``preset="cron"`` with a cron expression; ``time_zone`` empty = the account's.
    With ``template_id`` each run starts the goal from that template's current content,
    and ``title`` (the template's title when empty) only names the routine.
    Checked by the service, which names the field at fault."""

    title: Text = ""
    brief: Text = ""
    require_approval: bool = False
    credit_cap: int | None = Field(default=None, ge=1, le=10_000_000)
    preset: Text = "weekdays"
    at: Text = "09:00"
    cron: Text = ""
    time_zone: Text = ""
    missed_policy: MissedPolicy = MissedPolicy.SKIP
    overlap_policy: OverlapPolicy = OverlapPolicy.SKIP
    template_id: int | None = None


class RoutineRunOut(BaseModel):
    id: int
    routine_id: int
    due_at: datetime
    outcome: str
    reason: str
    message: str
    manual: bool
    goal_id: int | None
    goal_status: str | None = None


class RoutineOut(BaseModel):
    id: int
    title: str
    brief: str
    require_approval: bool
    credit_cap: int | None
    template_id: int | None
    preset: str
    cron: str
    schedule: str
    time_zone: str
    missed_policy: str
    overlap_policy: str
    status: str
    next_run_at: datetime | None
    next_runs: list[datetime]
    last_run: RoutineRunOut | None
    created_at: datetime


class PreviewOut(BaseModel):
    cron: str
    time_zone: str
    next_runs: list[datetime]

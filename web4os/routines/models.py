"""A routine (a goal on a schedule) and its runs.

Runs live in a table of their own, not as a column on ``goals``: a skipped run (overlap,
missed, credits) has no goal but must still be recorded with its reason, and the
unique ``(routine_id, due_at)`` makes a second run for one due time impossible even if
two processes got past the claim.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from web4os.db import Base, UTCDateTime, str_enum, utcnow


class RoutineStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class MissedPolicy(enum.StrEnum):
    SKIP = "skip"  # runs missed while every process was down are recorded, not run
    RUN_ONCE = "run_once"  # one run stands for all the missed ones


class OverlapPolicy(enum.StrEnum):
    SKIP = "skip"  # no new run while the previous run's goal is still active
    START = "start"  # start anyway


class RunOutcome(enum.StrEnum):
    STARTED = "started"
    SKIPPED = "skipped"
    FAILED = "failed"


class Routine(Base):
    """A goal's title, brief and settings, started on a cron schedule in a time zone."""

    __tablename__ = "routines"
    __table_args__ = (Index("ix_routines_status_next_run_at", "status", "next_run_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    brief: Mapped[str] = mapped_column(Text, default="")
    require_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    credit_cap: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Each run starts its goal from this template's current content (the fields above
    # then only name the routine); a deleted template fails the run with a reason.
    template_id: Mapped[int | None] = mapped_column(ForeignKey("goal_templates.id"),
                                                    nullable=True, index=True)
    preset: Mapped[str] = mapped_column(String(20), default="cron")
    cron: Mapped[str] = mapped_column(String(120))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    missed_policy: Mapped[MissedPolicy] = mapped_column(
        str_enum(MissedPolicy, "routine_missed_policy"), default=MissedPolicy.SKIP)
    overlap_policy: Mapped[OverlapPolicy] = mapped_column(
        str_enum(OverlapPolicy, "routine_overlap_policy"), default=OverlapPolicy.SKIP)
    status: Mapped[RoutineStatus] = mapped_column(
        str_enum(RoutineStatus, "routine_status"), default=RoutineStatus.ACTIVE)
    # The one due time not yet handled; claimed by a guarded UPDATE (scheduler.claim).
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RoutineRun(Base):
    """One due time of a routine: the goal it started, or why it did not start."""

    __tablename__ = "routine_runs"
    __table_args__ = (UniqueConstraint("routine_id", "due_at"),
                      Index("ix_routine_runs_routine_id_id", "routine_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    routine_id: Mapped[int] = mapped_column(ForeignKey("routines.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    goal_id: Mapped[int | None] = mapped_column(ForeignKey("goals.id"), nullable=True,
                                                index=True)
    outcome: Mapped[RunOutcome] = mapped_column(str_enum(RunOutcome, "routine_run_outcome"))
    reason: Mapped[str] = mapped_column(String(20), default="")  # overlap · missed · credits …
    message: Mapped[str] = mapped_column(Text, default="")
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

"""Goals, their tasks, the dependency edges and the append-only event history."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from web4os.agents.models import Agent
from web4os.db import Base, UTCDateTime, str_enum, utcnow


class GoalStatus(enum.StrEnum):
    PLANNING = "planning"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETING = "completing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TaskStatus(enum.StrEnum):
    PLANNED = "planned"
    QUEUED = "queued"
    RUNNING = "running"
    NEEDS_REVIEW = "needs_review"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    BLOCKED = "blocked"


# The tables below declare their columns one per line, so tables with the same
# kinds of column (id, account_id, a title, timestamps) look alike: separate tables,
# not one rule written twice.
class Goal(Base):
    """What the operator asked for; the CEO agent turns it into tasks."""

    __tablename__ = "goals"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    brief: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[GoalStatus] = mapped_column(
        str_enum(GoalStatus, "goal_status"), default=GoalStatus.PLANNING,
    )
    status_reason: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    plan_rationale: Mapped[str] = mapped_column(Text, default="")
    require_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    credit_cap: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # An operator's "urgent": this goal's cards go ahead of the account's other cards.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    credits_spent: Mapped[int] = mapped_column(Integer, default=0)
    replans: Mapped[int] = mapped_column(Integer, default=0)
    # The operator's "plan again" grants one more re-plan to a goal that used its own.
    replans_allowed: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    plan_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # ``plan_attempts`` when the current round of planning began: a round has its own
    # budget of tries, while every attempt keeps its own credit key.
    plan_round_start: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    tasks: Mapped[list[Task]] = relationship(
        back_populates="goal", order_by="Task.position", foreign_keys="Task.goal_id"
    )


class Task(Base):
    """One card: a unit of work assigned to a specialist agent."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("goal_id", "key"),
        Index("ix_tasks_account_id_status", "account_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    instructions: Mapped[str] = mapped_column(Text, default="")
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    status: Mapped[TaskStatus] = mapped_column(
        str_enum(TaskStatus, "task_status"), default=TaskStatus.PLANNED,
    )
    status_reason: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    output: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    feedback: Mapped[str] = mapped_column(Text, default="")
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    estimated_credits: Mapped[int] = mapped_column(Integer, default=0)
    actual_credits: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # runs (each its credit hold)
    # Runs that ended waiting for the operator (a tool call to approve): not tries, so a
    # card that asks often keeps its retries for real failures (``tries``).
    waits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The last attempt whose result was recorded: a redelivered finish of it records nothing.
    finished_attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claim_token: Mapped[str | None] = mapped_column(String(40), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    goal: Mapped[Goal] = relationship(back_populates="tasks", foreign_keys=[goal_id])
    agent: Mapped[Agent] = relationship(lazy="joined")

    @property
    def tries(self) -> int:
        """Runs that counted as tries: every run but those that stopped for the operator."""
        return self.attempts - self.waits


class TaskDependency(Base):
    """An edge of the plan: ``task_id`` needs ``depends_on_id`` done first."""

    __tablename__ = "task_dependencies"
    __table_args__ = (UniqueConstraint("task_id", "depends_on_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    depends_on_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)


class TaskEvent(Base):
    """Append-only history: state changes, model calls, operator actions."""

    __tablename__ = "task_events"
    # (goal_id, id): a goal's latest events (the board's activity feed, polled live)
    # are read from the index's end, whatever the goal's history holds.
    __table_args__ = (Index("ix_task_events_task_id_id", "task_id", "id"),
                      Index("ix_task_events_goal_id_id", "goal_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    actor: Mapped[str] = mapped_column(String(120), default="system")
    message: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

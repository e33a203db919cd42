"""Factories of the routine tests: a routine saved through the service at a given now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant
from web4os.goals.models import Goal
from web4os.routines import service
from web4os.routines.models import Routine, RoutineRun
from web4os.routines.schemas import RoutineIn


def make_routine(db: Session, tenant: Tenant, now: datetime, **fields: Any) -> Routine:
    data: dict[str, Any] = {"title": "Weekly sales summary", "preset": "daily",
                            "at": "09:00", "time_zone": "UTC"}
    data.update(fields)
    routine = service.save_routine(db, tenant.ctx(), RoutineIn(**data), now=now)
    db.commit()
    return routine


def runs(db: Session, routine: Routine) -> list[RoutineRun]:
    db.rollback()  # see what the scheduler's own sessions committed
    return list(db.scalars(select(RoutineRun).where(RoutineRun.routine_id == routine.id)
                           .order_by(RoutineRun.due_at, RoutineRun.id)))


def goals_of(db: Session, tenant: Tenant) -> list[Goal]:
    db.rollback()
    return list(db.scalars(select(Goal).where(Goal.account_id == tenant.id).order_by(Goal.id)))

"""Firing due routines: one goal per due time, missed runs and overlap by policy, pause,
credits; the clock injected (``fire_due(now)``) or frozen with time-machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import update
from sqlalchemy.orm import Session

from tests.factories import HeldQueue, Tenant
from tests.routines.conftest import goals_of, make_routine, runs
from web4os.goals.models import Goal, GoalStatus
from web4os.routines import service
from web4os.routines.models import RoutineStatus, RunOutcome
from web4os.routines.scheduler import fire_due

MON_8 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # a Monday, before the 09:00 run
MON_9 = MON_8 + timedelta(hours=1)


def test_a_due_routine_starts_one_goal_through_the_goal_service(
        db: Session, tenant: Tenant, held_queue: HeldQueue) -> None:
    routine = make_routine(db, tenant, MON_8, brief="Numbers of the week.", credit_cap=50,
                           require_approval=True)
    assert routine.next_run_at == MON_9
    assert fire_due(MON_9 - timedelta(seconds=1)) == 0
    assert fire_due(MON_9 + timedelta(seconds=3)) == 1
    assert fire_due(MON_9 + timedelta(seconds=8)) == 0  # the next sweep: nothing due
    [goal] = goals_of(db, tenant)
    assert (goal.title, goal.brief, goal.credit_cap, goal.require_approval) == (
        "Weekly sales summary", "Numbers of the week.", 50, True)
    assert goal.status == GoalStatus.PLANNING
    assert any(name == "plan_goal" and (kw["goal_id"], kw["account_id"]) == (goal.id, tenant.id)
               for name, kw in held_queue.jobs)  # (kw also holds the scheduler's rank)
    [run] = runs(db, routine)
    assert (run.outcome, run.goal_id, run.due_at) == (RunOutcome.STARTED, goal.id, MON_9)
    db.refresh(routine)
    assert routine.next_run_at == MON_9 + timedelta(days=1)
    assert service.routine_of_goal(db, tenant.id, goal.id) == routine


def test_the_frozen_clock_drives_the_sweep(db: Session, tenant: Tenant,
                                           held_queue: HeldQueue) -> None:
    routine = make_routine(db, tenant, MON_8, overlap_policy="start")
    with time_machine.travel(MON_9 + timedelta(seconds=2), tick=False):
        assert fire_due() == 1
    with time_machine.travel(MON_9 + timedelta(days=1, seconds=2), tick=False):
        assert fire_due() == 1
    assert [r.due_at for r in runs(db, routine)] == [MON_9, MON_9 + timedelta(days=1)]
    assert len(goals_of(db, tenant)) == 2


def test_missed_runs_skipped_none_then_the_next(db: Session, tenant: Tenant,
                                                held_queue: HeldQueue) -> None:
    """Every process was down for three days: the skip policy starts nothing on return,
    records the missed runs, and runs the next one on time."""
    routine = make_routine(db, tenant, MON_8, missed_policy="skip")
    back = MON_9 + timedelta(days=3, hours=2)  # Thursday 11:00
    assert fire_due(back) == 1
    assert goals_of(db, tenant) == []
    [skipped] = runs(db, routine)
    assert (skipped.outcome, skipped.reason) == (RunOutcome.SKIPPED, "missed")
    assert skipped.message.startswith("4 runs missed")
    db.refresh(routine)
    assert routine.next_run_at == MON_9 + timedelta(days=4)
    assert fire_due(back + timedelta(minutes=5)) == 0
    assert fire_due(MON_9 + timedelta(days=4, seconds=5)) == 1
    assert len(goals_of(db, tenant)) == 1


def test_missed_runs_run_once_for_all(db: Session, tenant: Tenant,
                                      held_queue: HeldQueue) -> None:
    routine = make_routine(db, tenant, MON_8, missed_policy="run_once")
    back = MON_9 + timedelta(days=3, hours=2)
    assert fire_due(back) == 1
    assert fire_due(back + timedelta(seconds=5)) == 0
    [goal] = goals_of(db, tenant)
    [run] = runs(db, routine)
    assert (run.outcome, run.goal_id) == (RunOutcome.STARTED, goal.id)
    assert "4 runs" in run.message
    db.refresh(routine)
    assert routine.next_run_at == MON_9 + timedelta(days=4)


def _finish(db: Session, goal_id: int) -> None:
    db.execute(update(Goal).where(Goal.id == goal_id).values(status=GoalStatus.COMPLETED))
    db.commit()


def test_overlap_skip_waits_for_the_previous_goal(db: Session, tenant: Tenant,
                                                  held_queue: HeldQueue) -> None:
    routine = make_routine(db, tenant, MON_8, overlap_policy="skip")
    fire_due(MON_9)
    fire_due(MON_9 + timedelta(days=1))  # the first goal is still planning
    [first] = goals_of(db, tenant)
    second = runs(db, routine)[1]
    assert (second.outcome, second.reason, second.goal_id) == (
        RunOutcome.SKIPPED, "overlap", None)
    assert f"#{first.id}" in second.message
    _finish(db, first.id)
    fire_due(MON_9 + timedelta(days=2))
    assert len(goals_of(db, tenant)) == 2


def test_overlap_start_anyway(db: Session, tenant: Tenant, held_queue: HeldQueue) -> None:
    routine = make_routine(db, tenant, MON_8, overlap_policy="start")
    fire_due(MON_9)
    fire_due(MON_9 + timedelta(days=1))
    assert len(goals_of(db, tenant)) == 2
    assert [r.outcome for r in runs(db, routine)] == [RunOutcome.STARTED] * 2


def test_pause_and_resume(db: Session, tenant: Tenant, held_queue: HeldQueue) -> None:
    routine = make_routine(db, tenant, MON_8)
    service.pause(db, tenant.ctx(), routine.id)
    db.commit()
    assert fire_due(MON_9 + timedelta(days=2)) == 0
    assert goals_of(db, tenant) == []
    service.resume(db, tenant.ctx(), routine.id, now=MON_9 + timedelta(days=2, hours=1))
    db.commit()
    db.refresh(routine)
    assert routine.status == RoutineStatus.ACTIVE
    assert routine.next_run_at == MON_9 + timedelta(days=3)  # runs while paused: not made up
    assert fire_due(MON_9 + timedelta(days=3)) == 1
    assert len(goals_of(db, tenant)) == 1


def test_no_credits_records_a_run_that_could_not_start(db: Session, tenant: Tenant,
                                                       held_queue: HeldQueue) -> None:
    from tests.factories import make_tenant

    broke = make_tenant(db, "Broke Co", credits=0)
    db.commit()
    routine = make_routine(db, broke, MON_8)
    assert fire_due(MON_9) == 1
    [run] = runs(db, routine)
    assert (run.outcome, run.reason, run.goal_id) == (RunOutcome.FAILED, "credits", None)
    assert goals_of(db, broke) == []


def test_a_clock_that_jumps_back_fires_nothing_twice(db: Session, tenant: Tenant,
                                                     held_queue: HeldQueue) -> None:
    make_routine(db, tenant, MON_8)
    assert fire_due(MON_9) == 1
    assert fire_due(MON_9 - timedelta(hours=3)) == 0
    assert fire_due(MON_9) == 0
    assert len(goals_of(db, tenant)) == 1


def test_dst_spring_forward_fires_once_through_the_night(db: Session, tenant: Tenant,
                                                         held_queue: HeldQueue) -> None:
    """A 02:30 New York routine on 2026-03-08, swept every 5 minutes all night."""
    eve = datetime(2026, 3, 8, 4, 0, tzinfo=UTC)  # 23:00 EST the evening before
    routine = make_routine(db, tenant, eve, at="02:30", time_zone="America/New_York")
    t = eve
    while t < eve + timedelta(hours=8):
        fire_due(t)
        t += timedelta(minutes=5)
    assert [r.due_at for r in runs(db, routine)] == [datetime(2026, 3, 8, 7, 30, tzinfo=UTC)]


def test_dst_fall_back_fires_once_through_the_night(db: Session, tenant: Tenant,
                                                    held_queue: HeldQueue) -> None:
    """A 01:30 London routine on 2026-10-25 (01:30 happens twice), swept all night."""
    eve = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
    routine = make_routine(db, tenant, eve, at="01:30", time_zone="Europe/London",
                           overlap_policy="start")
    t = eve
    while t < eve + timedelta(hours=6):
        fire_due(t)
        t += timedelta(minutes=5)
    assert [r.due_at for r in runs(db, routine)] == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]

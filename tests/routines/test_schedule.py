"""Presets, cron and time zones: the next run times, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from web4os.errors import InvalidInput
from web4os.routines.schedule import Schedule, build, due_between, next_after, next_times

MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # a Monday


def _utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_weekday_preset_skips_the_weekend() -> None:
    sched = build("weekdays", "9:00", "", "UTC", MONDAY_NOON)
    assert sched.cron == "0 9 * * 1-5"
    times = next_times(sched, MONDAY_NOON)
    assert [t.strftime("%a %H:%M") for t in times] == [
        "Tue 09:00", "Wed 09:00", "Thu 09:00", "Fri 09:00", "Mon 09:00"]


@pytest.mark.parametrize(("preset", "cron", "first"), [
    ("daily", "30 18 * * *", _utc(2026, 12, 7, 18, 30)),
    ("mondays", "30 18 * * 1", _utc(2026, 12, 7, 18, 30)),
    ("monthly", "30 18 1 * *", _utc(2027, 1, 1, 18, 30)),
])
def test_presets_store_as_cron(preset: str, cron: str, first: datetime) -> None:
    sched = build(preset, "18:30", "", "UTC", MONDAY_NOON)
    assert sched.cron == cron
    assert next_after(sched, MONDAY_NOON) == first


def test_presets_run_at_the_wall_time_of_their_zone() -> None:
    """09:00 in New York is 14:00 UTC in winter and 13:00 UTC in summer."""
    winter = build("daily", "09:00", "", "America/New_York", MONDAY_NOON)
    assert next_after(winter, MONDAY_NOON) == _utc(2026, 12, 7, 14, 0)
    assert next_after(winter, _utc(2026, 7, 1, 0, 0)) == _utc(2026, 7, 1, 13, 0)


def test_a_cron_expression_is_parsed_by_croniter() -> None:
    sched = build("cron", "", " 15  */6 * * * ", "UTC", MONDAY_NOON)
    assert sched.cron == "15 */6 * * *"
    assert next_times(sched, MONDAY_NOON, 3) == [
        _utc(2026, 12, 7, 12, 15), _utc(2026, 12, 7, 18, 15), _utc(2026, 12, 8, 0, 15)]


@pytest.mark.parametrize(("preset", "at", "cron", "field"), [
    ("cron", "", "not a cron", "cron"),
    ("cron", "", "0 9 * * * *", "cron"),  # six fields
    ("cron", "", "61 9 * * *", "cron"),
    ("cron", "", "* * * * *", "cron"),  # every minute: too often
    ("cron", "", "0 0 30 2 *", "cron"),  # no such date
    ("cron", "", "@daily", "cron"),  # five fields only
    ("daily", "25:00", "", "at"),
    ("daily", "nine", "", "at"),
    ("hourly", "09:00", "", "preset"),
])
def test_a_bad_schedule_names_its_field(preset: str, at: str, cron: str, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        build(preset, at, cron, "UTC", MONDAY_NOON)
    assert caught.value.field == field


# --- daylight saving -----------------------------------------------------------------

def test_spring_forward_new_york_a_missing_time_runs_once_at_the_shifted_time() -> None:
    """2026-03-08: 02:00 EST jumps to 03:00 EDT, so 02:30 does not exist that day."""
    sched = Schedule("daily", "30 2 * * *", "America/New_York")
    times = next_times(sched, _utc(2026, 3, 7, 12, 0), 3)
    assert times == [_utc(2026, 3, 8, 7, 30),  # 03:30 EDT, once
                     _utc(2026, 3, 9, 6, 30),  # 02:30 EDT
                     _utc(2026, 3, 10, 6, 30)]


def test_fall_back_new_york_a_repeated_time_runs_once() -> None:
    """2026-11-01: 02:00 EDT falls back to 01:00 EST, so 01:30 happens twice."""
    sched = Schedule("daily", "30 1 * * *", "America/New_York")
    times = next_times(sched, _utc(2026, 10, 31, 12, 0), 3)
    assert times == [_utc(2026, 11, 1, 5, 30),  # 01:30 EDT; not again at 01:30 EST
                     _utc(2026, 11, 2, 6, 30), _utc(2026, 11, 3, 6, 30)]


def test_spring_forward_london() -> None:
    """2026-03-29: 01:00 GMT jumps to 02:00 BST; 01:30 runs once, at 02:30 BST."""
    sched = Schedule("daily", "30 1 * * *", "Europe/London")
    assert next_times(sched, _utc(2026, 3, 28, 12, 0), 2) == [
        _utc(2026, 3, 29, 1, 30), _utc(2026, 3, 30, 0, 30)]


def test_fall_back_london() -> None:
    """2026-10-25: 02:00 BST falls back to 01:00 GMT; 01:30 runs once, the first time."""
    sched = Schedule("daily", "30 1 * * *", "Europe/London")
    assert next_times(sched, _utc(2026, 10, 24, 12, 0), 2) == [
        _utc(2026, 10, 25, 0, 30), _utc(2026, 10, 26, 1, 30)]


def test_an_hourly_routine_never_repeats_an_instant_over_a_dst_change() -> None:
    for zone, start in (("America/New_York", _utc(2026, 3, 8, 5, 0)),
                        ("America/New_York", _utc(2026, 11, 1, 4, 0)),
                        ("Europe/London", _utc(2026, 3, 29, 0, 0)),
                        ("Europe/London", _utc(2026, 10, 25, 0, 0))):
        times = next_times(Schedule("cron", "*/30 * * * *", zone), start, 12)
        assert times == sorted(set(times)), zone
        assert all(b - a <= timedelta(hours=1, minutes=30) for a, b in pairwise(times))


def test_due_between_lists_every_missed_time() -> None:
    sched = Schedule("daily", "0 9 * * *", "UTC")
    due = due_between(sched, _utc(2026, 12, 1, 9, 0), _utc(2026, 12, 4, 10, 0))
    assert [d.day for d in due] == [1, 2, 3, 4]

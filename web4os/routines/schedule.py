"""When a routine runs: presets stored as cron, cron parsed by ``croniter``, and the
next run times in the routine's time zone, correct across daylight-saving changes.

Cron is matched against the *wall clock* (naive local times), and each matching wall
time is then placed on the UTC line with ``zoneinfo``. A wall time that does not exist
(02:30 on a spring-forward day) takes the offset from before the change, so it runs
once, at the shifted time (03:30); a wall time that happens twice (01:30 on a
fall-back day) is matched once and runs at its first occurrence. The next run is
always looked for after the previous run's *instant*, so no instant comes back twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from croniter import CroniterError, croniter

from web4os.accounts.zones import zone_of
from web4os.errors import InvalidInput

PRESETS: dict[str, str] = {
    "weekdays": "Every weekday",
    "daily": "Every day",
    "mondays": "Every Monday",
    "monthly": "The 1st of the month",
    "cron": "Custom (cron)",
}
_PRESET_CRON = {"weekdays": "{m} {h} * * 1-5", "daily": "{m} {h} * * *",
                "mondays": "{m} {h} * * 1", "monthly": "{m} {h} 1 * *"}
_AT = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
MIN_GAP = timedelta(minutes=5)  # each run is a goal that spends credits
_LOOKAHEAD = 2000  # wall times tried per search (a gap of a DST hour costs a few)


@dataclass(frozen=True)
class Schedule:
    """A checked schedule: the preset it came from, its cron and its zone name."""

    preset: str
    cron: str
    time_zone: str


def parse_at(raw: str) -> tuple[int, int]:
    """``"9:00"`` → ``(9, 0)``; anything else names the field."""
    m = _AT.match(raw.strip())
    if m is None:
        raise InvalidInput("Give a time of day as HH:MM, e.g. 09:00.", field="at")
    return int(m.group(1)), int(m.group(2))


def preset_cron(preset: str, at: str) -> str:
    """The cron expression a preset stands for, at ``at`` (HH:MM)."""
    if preset not in _PRESET_CRON:
        raise InvalidInput("Pick a schedule from the list.", field="preset")
    hour, minute = parse_at(at)
    return _PRESET_CRON[preset].format(m=minute, h=hour)


def check_cron(expr: str) -> str:
    """A five-field cron expression ``croniter`` accepts, trimmed; else names the field."""
    text = " ".join(expr.split())
    if len(text.split(" ")) != 5 or not croniter.is_valid(text):
        raise InvalidInput("Write a cron expression of five fields (minute hour day month "
                           "weekday), e.g. “0 9 * * 1-5”.", field="cron")
    return text


def at_of(cron: str) -> str:
    """The HH:MM of a preset's cron (for showing the form again)."""
    minute, hour = cron.split(" ")[:2]
    return f"{int(hour):02d}:{int(minute):02d}" if minute.isdigit() and hour.isdigit() else ""


def next_after(sched: Schedule, after: datetime) -> datetime:
    """The first run instant strictly after ``after`` (UTC, aware)."""
    zone = zone_of(sched.time_zone)
    wall = after.astimezone(zone).replace(tzinfo=None, fold=0)
    it = croniter(sched.cron, wall)
    for _ in range(_LOOKAHEAD):
        try:
            candidate: datetime = it.get_next(datetime)
        except CroniterError:  # a date no calendar has (the 30th of February)
            break
        instant = candidate.replace(tzinfo=zone, fold=0).astimezone(UTC)
        if instant > after:
            return instant
    raise InvalidInput("This schedule never comes round; check the cron expression.",
                       field="cron")


def next_times(sched: Schedule, after: datetime, count: int = 5) -> list[datetime]:
    """The next ``count`` run instants after ``after`` (UTC, aware)."""
    out: list[datetime] = []
    for _ in range(count):
        after = next_after(sched, after)
        out.append(after)
    return out


def due_between(sched: Schedule, first: datetime, now: datetime,
                limit: int = 1000) -> list[datetime]:
    """``first`` and every later run instant up to ``now`` (at most ``limit``, latest kept)."""
    due = [first]
    while True:
        following = next_after(sched, due[-1])
        if following > now:
            return due
        due.append(following)
        if len(due) > limit:
            due = [due[0], *due[-limit + 1:]]


def build(preset: str, at: str, cron: str, time_zone: str, now: datetime) -> Schedule:
    """A schedule from the form's fields, checked: a known preset and time (or a valid
    cron), and runs at least ``MIN_GAP`` apart."""
    expr = check_cron(cron) if preset == "cron" else preset_cron(preset, at)
    sched = Schedule(preset=preset, cron=expr, time_zone=time_zone)
    times = next_times(sched, now, 5)
    if any(b - a < MIN_GAP for a, b in pairwise(times)):
        raise InvalidInput("Runs must be at least 5 minutes apart: each run starts a goal.",
                           field="cron")
    return sched


def describe(sched: Schedule) -> str:
    """The schedule in words, for lists: ``Every weekday at 09:00`` or the cron."""
    if sched.preset in _PRESET_CRON:
        return f"{PRESETS[sched.preset]} at {at_of(sched.cron)}"
    return f"cron “{sched.cron}”"

"""An account's time zone: the clock its routines fire on and its budgets reset by.

Zones are IANA names read through ``zoneinfo`` (with the ``tzdata`` package where the
system has no zone database), so daylight-saving changes follow the published rules.
"""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from web4os.errors import InvalidInput

DEFAULT_ZONE = "UTC"


@cache
def known_zones() -> tuple[str, ...]:
    """Every zone name an owner may pick, sorted for the settings page's list."""
    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))


def parse_time_zone(raw: str, *, field: str = "time_zone") -> str:
    """A zone name as typed: trimmed, matched case-insensitively, else a clear error."""
    text = raw.strip()
    if not text:
        return DEFAULT_ZONE
    by_lower = {z.lower(): z for z in known_zones()}
    name = by_lower.get(text.lower())
    if name is None:
        raise InvalidInput("Pick a time zone from the list, such as Europe/London or "
                           "America/New_York.", field=field)
    return name


def zone_of(name: str | None) -> ZoneInfo:
    """The zone for a stored name; a name the zone database no longer has reads as UTC."""
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)

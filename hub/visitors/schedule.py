"""When the visitor housekeeping is due: pure functions of ``now`` (no database, no clock).

Closing time is a wall-clock time in the building's zone ("18:00"), so the instant it falls on
moves with daylight saving time; these functions do that arithmetic with :mod:`zoneinfo`.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(tz: str | None) -> ZoneInfo:
    """The IANA zone ``tz``, or UTC when it is missing or unknown."""
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def last_closing(now: datetime, tz: str | None, closing: str) -> datetime:
    """The latest closing instant at or before ``now`` (aware, UTC), ``closing`` being local ``HH:MM``.

    On the day clocks spring forward a closing time inside the skipped hour falls an hour
    later in wall time (zoneinfo's reading of a time that does not exist); on the day they
    fall back, an ambiguous closing time is its first occurrence.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    hh, mm = (int(part) for part in closing.split(":"))
    where = zone(tz)
    today = now.astimezone(where).date()
    for back in (0, 1, 2):
        instant = datetime.combine(today - timedelta(days=back), time(hh, mm), where).astimezone(UTC)
        if instant <= now:
            return instant
    raise AssertionError("unreachable: a closing time two days back is always in the past")


def photo_cutoff(now: datetime, retention_days: int) -> datetime:
    """Photos of visits that ended before this instant are shredded."""
    if retention_days < 0:
        raise ValueError("retention_days must not be negative")
    return now - timedelta(days=retention_days)

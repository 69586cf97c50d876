"""Business-time arithmetic: pure functions, no database.

A ``CalendarSpec`` says when the clock runs. Working hours are wall-clock times in
the calendar's time zone, so a 09:00–18:00 day stays 09:00–18:00 across DST
changes; elapsed time inside an interval is real (UTC) time.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

#: A calendar with no working time at all would never reach a deadline.
MAX_SEARCH_DAYS = 3 * 366


@dataclass(frozen=True)
class CalendarSpec:
    time_zone: str = "UTC"
    is_24x7: bool = True
    #: weekday (0 = Monday) -> list of (start, end) wall-clock intervals.
    hours: Mapping[int, tuple[tuple[time, time], ...]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()
    name: str = "24×7"

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def describe(self) -> str:
        if self.is_24x7:
            return f"{self.name} (24×7)"
        return f"{self.name} ({self.time_zone})"


TWENTY_FOUR_SEVEN = CalendarSpec()


def _require_aware(value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("business-time arithmetic needs timezone-aware datetimes")


def _intervals_from(spec: CalendarSpec, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Working intervals (UTC, aware) that end after ``start``, in order, clipped to it."""
    tz = spec.tz
    local_day = start.astimezone(tz).date()
    for offset in range(MAX_SEARCH_DAYS):
        day = local_day + timedelta(days=offset)
        if day in spec.holidays:
            continue
        for begin_t, end_t in spec.hours.get(day.weekday(), ()):
            begin = datetime.combine(day, begin_t, tzinfo=tz).astimezone(UTC)
            end = datetime.combine(day, end_t, tzinfo=tz).astimezone(UTC)
            if end <= start:
                continue
            yield max(begin, start), end
    raise ValueError(f"calendar {spec.name!r} has no working time in {MAX_SEARCH_DAYS} days")


def add_business_time(spec: CalendarSpec, start: datetime, duration: timedelta) -> datetime:
    """The moment at which ``duration`` of business time has elapsed after ``start``."""
    _require_aware(start)
    if duration < timedelta(0):
        raise ValueError("duration must not be negative")
    if spec.is_24x7:
        return start + duration
    start = start.astimezone(UTC)
    remaining = duration
    for begin, end in _intervals_from(spec, start):
        span = end - begin
        if remaining <= span:
            return begin + remaining
        remaining -= span
    raise AssertionError("unreachable: _intervals_from raises when exhausted")


def business_time_between(spec: CalendarSpec, start: datetime, end: datetime) -> timedelta:
    """Business time elapsed from ``start`` to ``end`` (zero if ``end`` is not later)."""
    _require_aware(start)
    _require_aware(end)
    if end <= start:
        return timedelta(0)
    if spec.is_24x7:
        return end - start
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    total = timedelta(0)
    for begin, stop in _intervals_from(spec, start):
        if begin >= end:
            break
        total += min(stop, end) - begin
    return total

"""Business-time arithmetic with fixed instants (no wall clock involved)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tiers.business_time import (
    TWENTY_FOUR_SEVEN,
    CalendarSpec,
    add_business_time,
    business_time_between,
)

OFFICE = CalendarSpec(
    time_zone="Europe/Berlin",
    is_24x7=False,
    hours={d: ((time(9), time(18)),) for d in range(5)},
    name="Berlin office",
)
BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def test_24x7_is_plain_addition():
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert add_business_time(TWENTY_FOUR_SEVEN, start, timedelta(hours=30)) == start + timedelta(
        hours=30
    )


def test_friday_evening_rolls_over_the_weekend():
    # The example: Friday 17:55 + 2 h in a 9–18 Mon–Fri calendar → Monday 10:55.
    due = add_business_time(OFFICE, berlin(2026, 11, 27, 17, 55), timedelta(hours=2))
    assert due == berlin(2026, 11, 30, 10, 55)


def test_start_outside_hours_starts_at_next_opening():
    assert add_business_time(OFFICE, berlin(2026, 11, 28, 3, 0), timedelta(minutes=30)) == berlin(
        2026, 11, 30, 9, 30
    )


def test_exact_end_of_day_lands_on_closing_time():
    assert add_business_time(OFFICE, berlin(2026, 11, 30, 9), timedelta(hours=9)) == berlin(
        2026, 11, 30, 18
    )


def test_holidays_are_skipped():
    with_holiday = CalendarSpec(
        time_zone="Europe/Berlin",
        is_24x7=False,
        hours=OFFICE.hours,
        holidays=frozenset({date(2026, 11, 30)}),
    )
    assert add_business_time(
        with_holiday, berlin(2026, 11, 27, 17, 0), timedelta(hours=2)
    ) == berlin(2026, 12, 1, 10, 0)


def test_dst_spring_forward_keeps_wall_clock_hours():
    # 2026-03-29: Berlin jumps 02:00 → 03:00 (a Sunday). Friday 17:00 + 3 h → Monday 11:00 local.
    due = add_business_time(OFFICE, berlin(2026, 3, 27, 17, 0), timedelta(hours=3))
    assert due == berlin(2026, 3, 30, 11, 0)
    assert due.astimezone(BERLIN).utcoffset() == timedelta(hours=2)  # CEST


def test_dst_inside_working_hours_counts_real_time():
    # A 24-hour-a-day business calendar in New York across the autumn fall-back (Nov 1 2026).
    ny = CalendarSpec(
        time_zone="America/New_York",
        is_24x7=False,
        hours={d: ((time(0), time(23, 59, 59)),) for d in range(7)},
    )
    start = datetime(2026, 10, 31, 12, tzinfo=ZoneInfo("America/New_York"))
    end = datetime(2026, 11, 1, 12, tzinfo=ZoneInfo("America/New_York"))
    # 25 real hours elapsed, minus the two one-second gaps at 23:59:59.
    assert business_time_between(ny, start, end) == timedelta(hours=25) - timedelta(seconds=1)


def test_between_is_inverse_of_add():
    start = berlin(2026, 11, 26, 16, 20)
    for hours in (0.5, 1, 7, 9, 13, 40):
        due = add_business_time(OFFICE, start, timedelta(hours=hours))
        assert business_time_between(OFFICE, start, due) == timedelta(hours=hours)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_time(OFFICE, datetime(2026, 1, 1), timedelta(hours=1))


def test_calendar_without_hours_is_an_error_not_a_hang():
    empty = CalendarSpec(is_24x7=False, hours={}, name="empty")
    with pytest.raises(ValueError, match="no working time"):
        add_business_time(empty, datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=1))

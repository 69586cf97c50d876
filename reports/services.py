"""Writes of the reports app: building the daily rollups."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import (
    DailyAgentRollup,
    DailyArticleRollup,
    DailyCategoryRollup,
    DailyFunnelRollup,
    DailyTicketRollup,
    DailyTierRollup,
    RollupDay,
)
from .rollup import build_window

logger = logging.getLogger(__name__)

#: Days rebuilt in one statement when catching up on a long history.
CHUNK_DAYS = 31


def day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in the server's time zone."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


def local_today(now: datetime | None = None) -> date:
    return timezone.localtime(now or timezone.now(), ZoneInfo(settings.TIME_ZONE)).date()


def history_start() -> date | None:
    """The first day with any data (a ticket or a KB suggestion): earlier days are empty."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT LEAST((SELECT MIN(created_at) FROM tickets_ticket), "
            "(SELECT MIN(shown_at) FROM tickets_deflection))"
        )
        first = cursor.fetchone()[0]
    if first is None:
        return None
    return timezone.localtime(first, ZoneInfo(settings.TIME_ZONE)).date()


@transaction.atomic
def rollup_build_days(*, first: date, last: date, now: datetime | None = None) -> int:
    """Rebuild the rollups of the finished days ``first``..``last`` (inclusive) exactly.

    Days that have not ended yet are skipped: they are computed live. Returns the
    number of days built. Idempotent: the days' rows are replaced whole.
    """
    last = min(last, local_today(now) - timedelta(days=1))
    if last < first:
        return 0
    for model in (
        DailyTicketRollup,
        DailyTierRollup,
        DailyCategoryRollup,
        DailyAgentRollup,
        DailyArticleRollup,
        DailyFunnelRollup,
    ):
        model.objects.filter(day__gte=first, day__lte=last).delete()
    built_at = now or timezone.now()
    with connection.cursor() as cursor:
        chunk = first
        while chunk <= last:
            chunk_last = min(chunk + timedelta(days=CHUNK_DAYS - 1), last)
            build_window(
                cursor,
                t0=day_start(chunk),
                t1=day_start(chunk_last + timedelta(days=1)),
                tz=settings.TIME_ZONE,
                into="rollup",
            )
            chunk = chunk_last + timedelta(days=1)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    RollupDay.objects.filter(day__in=days).delete()
    RollupDay.objects.bulk_create([RollupDay(day=d, built_at=built_at) for d in days])
    return len(days)


def rollup_refresh(
    *,
    now: datetime | None = None,
    recent_days: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """The nightly job: build every finished day that has no rollup yet (from the first
    day with data on) and rebuild the last ``recent_days`` days, so late facts about them
    (a deflection session linked to its ticket after midnight) are counted.

    Missing days are built ``CHUNK_DAYS`` at a time, each chunk committed on its own, so
    a long backfill (two years after a bulk load) shows progress through
    ``on_progress(days_done, days_total)`` and keeps what it built if interrupted."""
    recent_days = recent_days if recent_days is not None else settings.REPORTS_ROLLUP_RECENT_DAYS
    yesterday = local_today(now) - timedelta(days=1)
    first_day = history_start()
    if first_day is None:
        return 0
    built = set(
        RollupDay.objects.filter(day__gte=first_day, day__lte=yesterday).values_list(
            "day", flat=True
        )
    )
    recent_first = max(first_day, yesterday - timedelta(days=recent_days - 1))
    rebuild_recent = recent_days > 0 and recent_first <= yesterday
    # The recent days are rebuilt below anyway: a missing one (every night, yesterday)
    # is not built a second time before that.
    missing_until = recent_first if rebuild_recent else yesterday + timedelta(days=1)
    days = (first_day + timedelta(days=i) for i in range((missing_until - first_day).days))
    missing = [d for d in days if d not in built]
    # Contiguous runs of missing days, cut into chunks of at most CHUNK_DAYS days.
    chunks: list[tuple[date, date]] = []
    for d in missing:
        if (
            chunks
            and d == chunks[-1][1] + timedelta(days=1)
            and (d - chunks[-1][0]).days < CHUNK_DAYS
        ):
            chunks[-1] = (chunks[-1][0], d)
        else:
            chunks.append((d, d))
    if rebuild_recent:
        chunks.append((recent_first, yesterday))
    planned = sum((last - first).days + 1 for first, last in chunks)
    total = 0
    for first, last in chunks:
        total += rollup_build_days(first=first, last=last, now=now)
        if on_progress is not None:
            on_progress(total, planned)
    logger.info("reports rollup: %s day(s) built", total)
    return total

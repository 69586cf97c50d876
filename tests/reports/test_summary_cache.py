"""Dashboard figures are shared for REPORTS_CACHE_SECONDS between requests."""

from __future__ import annotations

import time
from datetime import date

import pytest

from reports import selectors
from reports.selectors import DashboardFilters, dashboard_summary_cached
from tests.outage import DEAD_CACHE

pytestmark = pytest.mark.django_db


def test_summary_is_computed_once_per_filters_within_the_ttl(settings, monkeypatch):
    settings.REPORTS_CACHE_SECONDS = 60
    calls = []
    monkeypatch.setattr(
        selectors,
        "dashboard_summary",
        lambda *, filters: calls.append(filters) or {"n": len(calls)},
    )
    week = DashboardFilters(start=date(2026, 11, 1), end=date(2026, 11, 7))
    month = DashboardFilters(start=date(2026, 10, 8), end=date(2026, 11, 7))
    assert dashboard_summary_cached(filters=week) == {"n": 1}
    assert dashboard_summary_cached(filters=week) == {"n": 1}
    assert dashboard_summary_cached(filters=month) == {"n": 2}
    assert len(calls) == 2


def test_zero_ttl_is_always_live(settings, monkeypatch):
    settings.REPORTS_CACHE_SECONDS = 0
    calls = []
    monkeypatch.setattr(
        selectors, "dashboard_summary", lambda *, filters: calls.append(1) or {"n": len(calls)}
    )
    week = DashboardFilters(start=date(2026, 11, 1), end=date(2026, 11, 7))
    dashboard_summary_cached(filters=week)
    dashboard_summary_cached(filters=week)
    assert len(calls) == 2


def test_a_request_waits_for_the_one_already_computing(settings, monkeypatch):
    """While one request computes the figures (its lock is in the cache) and nothing is
    cached yet, another with the same filters takes that result instead of computing
    them again."""
    import threading

    from django.core.cache import cache

    settings.REPORTS_CACHE_SECONDS = 60
    calls = []
    monkeypatch.setattr(
        selectors, "dashboard_summary", lambda *, filters: calls.append(1) or {"n": 9}
    )
    week = DashboardFilters(start=date(2026, 11, 1), end=date(2026, 11, 7))
    key = selectors.summary_cache_key(week)
    cache.add(key + ":lock", 1, timeout=60)  # someone else is computing
    threading.Timer(0.2, lambda: cache.set(key, (time.time() + 60, {"n": "theirs"}), 60)).start()
    assert dashboard_summary_cached(filters=week) == {"n": "theirs"}
    assert calls == []


def test_a_request_tired_of_waiting_computes_and_shares_its_result(settings, monkeypatch):
    """When the one computing never delivers, the waiting request computes the figures
    itself and stores them for the next readers, without taking the other's lock."""
    from django.core.cache import cache

    settings.REPORTS_CACHE_SECONDS = 60
    calls = []
    monkeypatch.setattr(
        selectors, "dashboard_summary", lambda *, filters: calls.append(1) or {"n": len(calls)}
    )
    monkeypatch.setattr(selectors, "_STAMPEDE_WAIT_SECONDS", 0.1)
    week = DashboardFilters(start=date(2026, 11, 2), end=date(2026, 11, 8))
    key = selectors.summary_cache_key(week)
    cache.add(key + ":lock", 1, timeout=60)  # someone else is computing, slowly
    assert dashboard_summary_cached(filters=week) == {"n": 1}
    assert dashboard_summary_cached(filters=week) == {"n": 1}  # stored: not computed again
    assert calls == [1]
    assert cache.get(key + ":lock") == 1  # still the other's


def test_stale_figures_are_served_while_one_request_refreshes(settings, monkeypatch):
    """Past the TTL the first request queues the recomputation on a worker and is
    served the previous figures at once, as is every request until the worker is done;
    none computes them. Then every request sees the new figures."""
    from django.core.cache import cache

    from reports import tasks

    settings.REPORTS_CACHE_SECONDS = 60
    calls = []
    monkeypatch.setattr(
        selectors, "dashboard_summary", lambda *, filters: calls.append(1) or {"n": len(calls)}
    )
    queued = []
    monkeypatch.setattr(tasks.reports_summary_refresh, "delay", queued.append)
    clock = [1_000_000.0]
    monkeypatch.setattr(selectors.time, "time", lambda: clock[0])
    week = DashboardFilters(start=date(2026, 11, 1), end=date(2026, 11, 7), tier=2)
    key = selectors.summary_cache_key(week)
    assert dashboard_summary_cached(filters=week) == {"n": 1}  # nothing cached: computed
    clock[0] += 59
    assert dashboard_summary_cached(filters=week) == {"n": 1}  # still fresh
    assert queued == []
    clock[0] += 2
    assert dashboard_summary_cached(filters=week) == {"n": 1}  # stale, served at once
    assert dashboard_summary_cached(filters=week) == {"n": 1}  # the refresh is under way
    assert calls == [1]
    assert queued == [week.as_dict()]  # queued once, not by every stale request
    assert cache.get(key + ":lock")

    tasks.reports_summary_refresh.run(queued[0])  # the worker
    assert calls == [1, 1]
    assert cache.get(key + ":lock") is None
    assert dashboard_summary_cached(filters=week) == {"n": 2}
    assert dashboard_summary_cached(filters=week) == {"n": 2}


def test_a_stale_summary_is_refreshed_by_a_real_task(settings):
    """The task round-trips the filters (eager here): a stale range is recomputed with
    the same filters and stored."""
    from django.core.cache import cache

    settings.REPORTS_CACHE_SECONDS = 60
    month = DashboardFilters(start=date(2026, 10, 8), end=date(2026, 11, 7), priority="high")
    key = selectors.summary_cache_key(month)
    cache.set(key, (time.time() - 1, {"old": True}), 180)
    assert dashboard_summary_cached(filters=month) == {"old": True}
    fresh_until, summary = cache.get(key)
    assert fresh_until > time.time()
    assert summary["filters"] == month.as_dict()


def test_with_the_broker_down_the_stale_request_recomputes(settings, monkeypatch):
    from reports import tasks

    settings.REPORTS_CACHE_SECONDS = 60
    calls = []
    monkeypatch.setattr(
        selectors, "dashboard_summary", lambda *, filters: calls.append(1) or {"n": len(calls)}
    )

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.reports_summary_refresh, "delay", broker_down)
    clock = [1_000_000.0]
    monkeypatch.setattr(selectors.time, "time", lambda: clock[0])
    week = DashboardFilters(start=date(2026, 11, 1), end=date(2026, 11, 7))
    assert dashboard_summary_cached(filters=week) == {"n": 1}
    clock[0] += 61
    assert dashboard_summary_cached(filters=week) == {"n": 2}  # not stuck on old figures
    assert dashboard_summary_cached(filters=week) == {"n": 2}


def test_filters_round_trip_through_the_task_argument():
    f = DashboardFilters(
        start=date(2026, 1, 1), end=date(2026, 1, 31), category_id=7, priority="low", tier=3
    )
    assert DashboardFilters.from_dict(f.as_dict()) == f


def test_a_cache_outage_computes_instead_of_failing(settings, monkeypatch):
    settings.REPORTS_CACHE_SECONDS = 60
    calls = []
    monkeypatch.setattr(
        selectors, "dashboard_summary", lambda *, filters: calls.append(1) or {"n": len(calls)}
    )
    settings.CACHES = DEAD_CACHE  # no Redis answers
    week = DashboardFilters(start=date(2026, 11, 1), end=date(2026, 11, 7))
    assert dashboard_summary_cached(filters=week) == {"n": 1}
    assert dashboard_summary_cached(filters=week) == {"n": 2}

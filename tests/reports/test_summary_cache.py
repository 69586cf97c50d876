"""Dashboard figures are shared for REPORTS_CACHE_SECONDS between requests."""

from __future__ import annotations

from datetime import date

import pytest

from reports import selectors
from reports.selectors import DashboardFilters, dashboard_summary_cached

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
    """While one request computes the figures (its lock is in the cache), another with
    the same filters takes that result instead of computing them again."""
    import hashlib
    import json
    import threading

    from django.core.cache import cache

    settings.REPORTS_CACHE_SECONDS = 60
    calls = []
    monkeypatch.setattr(
        selectors, "dashboard_summary", lambda *, filters: calls.append(1) or {"n": 9}
    )
    week = DashboardFilters(start=date(2026, 11, 1), end=date(2026, 11, 7))
    key = (
        "reports:summary:"
        + hashlib.sha256(json.dumps(week.as_dict(), sort_keys=True).encode()).hexdigest()
    )
    cache.add(key + ":lock", 1, timeout=60)  # someone else is computing
    threading.Timer(0.2, lambda: cache.set(key, {"n": "theirs"}, 60)).start()
    assert dashboard_summary_cached(filters=week) == {"n": "theirs"}
    assert calls == []

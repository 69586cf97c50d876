# ruff: noqa: S608 -- SQL is assembled from constants of this module; every value is a bound parameter.
"""Dashboard figures, computed in the database (never by loading tickets into Python).

:func:`dashboard_summary` aggregates the daily rollup rows of the chosen range plus,
for the days without a rollup (today, or days the nightly task has not built yet),
the same rows computed live into temporary tables (``reports.rollup``). Percentiles
are ``percentile_cont`` over the unnested per-day arrays of seconds, so medians are
exact, not medians of medians. Only aggregated rows come back to Python.

The tier filter selects facts that happened *in* that tier (created at, moved out
of, resolved at — see ``reports.models``); the open backlog uses the current tier.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from helpdesk import cache as caching
from helpdesk.cache import DIRECTORY, VersionedMemo
from tickets.models import Category, Ticket
from tiers.models import Priority

from .models import RollupDay
from .rollup import ROLLUPS, TICKET_COUNTS, build_window, live_table
from .services import day_start, history_start, local_today

logger = logging.getLogger(__name__)

ACTIVE_STATUSES = [str(s) for s in Ticket.ACTIVE_STATUSES]
#: The Tier 1 target band: resolve 70–80% of issues before raising them.
TIER1_BAND = (0.70, 0.80)
TIERS = (1, 2, 3, 4)
PRIORITIES = [p.value for p in Priority]
#: "What is going wrong this week": a category is rising when its tickets this week
#: are at least this factor of last week's, and at least RISING_MIN_TICKETS.
RISING_FACTOR = 1.5
RISING_MIN_TICKETS = 5

AGE_BUCKETS = [
    ("lt_1d", "< 1 day", 0, 1),
    ("1_3d", "1–3 days", 1, 3),
    ("3_7d", "3–7 days", 3, 7),
    ("7_30d", "7–30 days", 7, 30),
    ("gt_30d", "> 30 days", 30, None),
]
RESOLUTION_BUCKETS = [
    ("lt_1h", "< 1 h", 0, 3600),
    ("1_4h", "1–4 h", 3600, 4 * 3600),
    ("4_8h", "4–8 h", 4 * 3600, 8 * 3600),
    ("8_24h", "8–24 h", 8 * 3600, 24 * 3600),
    ("1_3d", "1–3 days", 86400, 3 * 86400),
    ("3_7d", "3–7 days", 3 * 86400, 7 * 86400),
    ("gt_7d", "> 7 days", 7 * 86400, None),
]


@dataclass(frozen=True)
class DashboardFilters:
    start: date
    end: date  # inclusive
    category_id: int | None = None
    priority: str | None = None
    tier: int | None = None

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "category": self.category_id,
            "priority": self.priority,
            "tier": self.tier,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DashboardFilters:
        """The inverse of :meth:`as_dict` (a Celery task's argument)."""
        return cls(
            start=date.fromisoformat(data["start"]),
            end=date.fromisoformat(data["end"]),
            category_id=data.get("category"),
            priority=data.get("priority"),
            tier=data.get("tier"),
        )


def _ratio(part: float | None, whole: float | None) -> float | None:
    if not whole:
        return None
    return round((part or 0) / whole, 4)


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


class _Sources:
    """SQL for "the rollup rows of days a..b, stored or live", with the filters."""

    def __init__(self, filters: DashboardFilters, live_from: date):
        self.filters = filters
        self.live_from = live_from

    def rows(self, name: str, first: date, last: date, *, dims: tuple[str, ...] = ()) -> tuple:
        _table, columns, _select = ROLLUPS[name]
        cols = ", ".join(columns)
        where = ["day >= %s", "day <= %s"]
        params: list[Any] = [first, last]
        f = self.filters
        for dim, value in (
            ("category_id", f.category_id),
            ("priority", f.priority),
            ("tier", f.tier),
        ):
            if dim in dims and value is not None:
                where.append(f"{dim} = %s")
                params.append(value)
        cond = " AND ".join(where)
        sql = (
            f"(SELECT {cols} FROM {_table} WHERE {cond} AND day < %s "
            f"UNION ALL SELECT {cols} FROM {live_table(name)} WHERE {cond})"
        )
        return sql, [*params, self.live_from, *params]

    def tickets(self, first: date, last: date) -> tuple:
        """The ticket rollup rows; without a category filter the category-less rollup
        (30× fewer rows, the same sums and the same values in its arrays)."""
        if self.filters.category_id is None:
            return self.rows("tier", first, last, dims=("priority", "tier"))
        return self.by_category(first, last)

    def by_category(self, first: date, last: date) -> tuple:
        return self.rows("ticket", first, last, dims=("category_id", "priority", "tier"))


def _fetch(sql: str, params: list[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def dashboard_summary(
    *, filters: DashboardFilters, now: datetime | None = None, use_rollups: bool = True
) -> dict[str, Any]:
    """Every figure of the dashboard for a range, as plain JSON-able data.

    ``use_rollups=False`` computes every day live (the rollup/live agreement test and
    a cross-check for operators).
    """
    now = now or timezone.now()
    today = local_today(now)
    # The backlog over time is counted back from now, and the weekly trend needs two
    # weeks before the end: the window reaches from there to today.
    window_first = min(filters.start, filters.end - timedelta(days=13))
    live_from = today
    if use_rollups:
        # Days before any data are empty: as good as built.
        first_data = history_start() or today
        built = set(
            RollupDay.objects.filter(day__gte=window_first, day__lt=today).values_list(
                "day", flat=True
            )
        )
        for i in range((today - window_first).days):
            d = window_first + timedelta(days=i)
            if d >= first_data and d not in built:
                live_from = d
                break
    else:
        live_from = window_first
    with transaction.atomic(), connection.cursor() as cursor:
        # Percentiles sort up to a few hundred thousand durations: in memory, not on disk.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        build_window(cursor, t0=day_start(live_from), t1=now, tz=settings.TIME_ZONE, into="live")
        src = _Sources(filters, live_from)
        daily = _daily(src, filters, window_first, today)
        backlog_now = _backlog_now(filters, now)
        summary: dict[str, Any] = {
            "filters": filters.as_dict(),
            "generated_at": now.isoformat(),
            "live_from": live_from.isoformat(),
        }
        summary.update(_headline(daily, backlog_now, filters))
        times = _times(src, filters)
        summary["resolution_distribution"] = times.pop("distribution")
        summary["times"] = times
        summary["series"] = _series(daily, backlog_now, filters, today)
        summary["categories"] = _categories(src, filters)
        summary["per_tier"] = _per_tier(daily, summary["times"], filters)
        summary["agents"] = _agents(src, filters)
        summary["articles"] = _articles(src, filters)
        summary["funnel"] = _funnel(src, filters)
        summary["vendors"] = _vendors(filters, now)
        summary["coaching"] = _coaching(filters)
    return summary


#: How long a request waits for another one computing the same figures.
_STAMPEDE_WAIT_SECONDS = 15
#: A summary stays in the cache this many TTLs after it stops being fresh, to be served
#: (stale) while one request recomputes it: only that request pays for the computation.
STALE_TTLS = 2


def summary_cache_key(filters: DashboardFilters) -> str:
    return (
        "reports:summary:v2:"
        + hashlib.sha256(json.dumps(filters.as_dict(), sort_keys=True).encode()).hexdigest()
    )


#: The Redis-down fallback is the cache module's: ``DOWN`` instead of an exception.
cache_call, CACHE_DOWN = caching.call, caching.DOWN


#: The dashboard's category list and its rendered filter form (``reports.views``),
#: kept per process under the directory counter, which every category write bumps
#: after commit; a request reads that counter once with every other memo's.
directory_memo = VersionedMemo(DIRECTORY, max_entries=500)


def category_choices() -> list[tuple[int, str]]:
    """(id, name) of every category, by name: the dashboard's category filter. Cache
    down: read from the database."""
    return directory_memo.get(
        "category-choices",
        lambda: list(Category.objects.order_by("name", "pk").values_list("pk", "name")),
    )


def dashboard_summary_cached(*, filters: DashboardFilters) -> dict[str, Any]:
    """``dashboard_summary`` shared for ``REPORTS_CACHE_SECONDS`` between managers and web
    nodes (the Redis cache in production).

    The exact medians and p90s sort every duration of the range; a dashboard a minute
    old is as good for staffing decisions, and the page shows when it was computed.
    When the figures are older than the TTL, the first request to notice takes a lock
    in the cache and queues :func:`summary_refresh` on a Celery worker; it and every
    request until the worker is done are served the previous figures
    (stale-while-revalidate), so no request pays for the computation (30 days cold is
    a few hundred milliseconds at a million tickets). With no broker to queue on, that
    request recomputes itself. Only when nothing is cached does a request compute, and
    the others with the same filters wait for it. A cache outage only costs the
    recomputation.
    """
    ttl = settings.REPORTS_CACHE_SECONDS
    if ttl <= 0:
        return dashboard_summary(filters=filters)
    key = summary_cache_key(filters)
    entry = cache_call("get", key)  # (fresh_until, summary)
    if entry is CACHE_DOWN:
        return dashboard_summary(filters=filters)
    if entry is not None and entry[0] > time.time():
        return entry[1]
    leader = cache_call("add", key + ":lock", 1, timeout=_LOCK_SECONDS)
    if leader is CACHE_DOWN:
        return dashboard_summary(filters=filters)
    if not leader:
        if entry is not None:
            return entry[1]  # stale by less than a TTL or two, while the leader refreshes
        deadline = time.monotonic() + _STAMPEDE_WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.05)
            entry = cache_call("get", key)
            if entry is CACHE_DOWN:
                break
            if entry is not None:
                return entry[1]
        # The one computing is slow or gone: compute, store, leave its lock alone.
        return summary_refresh(filters, release_lock=False)
    if entry is not None and _queue_refresh(filters):
        return entry[1]
    return summary_refresh(filters)


#: How long the refresh lock holds: a refresh queued on a worker that never runs it
#: (none started, or it died) is queued again by a request after this long.
_LOCK_SECONDS = 60


def _queue_refresh(filters: DashboardFilters) -> bool:
    """Queue the recomputation on a worker; False when the broker cannot take it."""
    from .tasks import reports_summary_refresh

    try:
        reports_summary_refresh.delay(filters.as_dict())
    except Exception:
        logger.warning("could not queue the dashboard refresh; computing in the request")
        return False
    return True


def summary_refresh(filters: DashboardFilters, *, release_lock: bool = True) -> dict[str, Any]:
    """Compute a range's figures, store them for ``REPORTS_CACHE_SECONDS`` (and as
    stale for ``STALE_TTLS`` more) and release the refresh lock (the caller's)."""
    key = summary_cache_key(filters)
    ttl = settings.REPORTS_CACHE_SECONDS
    try:
        summary = dashboard_summary(filters=filters)
        cache_call("set", key, (time.time() + ttl, summary), ttl * (1 + STALE_TTLS))
        return summary
    finally:
        if release_lock:
            cache_call("delete", key + ":lock")


# ---------------------------------------------------------------------------
# Additive figures: one query grouped by day and tier
# ---------------------------------------------------------------------------

# The additive rollup columns, summed per day and tier (the rollup's own list).
_DAILY_COUNTS = TICKET_COUNTS


def _daily(src: _Sources, filters: DashboardFilters, first: date, last: date) -> dict:
    rows_sql, params = src.tickets(first, last)
    sums = ", ".join(f"SUM({c})::bigint" for c in _DAILY_COUNTS)
    rows = _fetch(f"SELECT day, tier, {sums} FROM {rows_sql} r GROUP BY day, tier", params)
    return {(r[0], r[1]): dict(zip(_DAILY_COUNTS, r[2:], strict=True)) for r in rows}


def _range_totals(daily: dict, filters: DashboardFilters) -> dict[int | None, dict[str, int]]:
    """Sums over the range: per tier, and under ``None`` for all tiers."""
    totals: dict[int | None, dict[str, int]] = {
        t: dict.fromkeys(_DAILY_COUNTS, 0) for t in (*TIERS, None)
    }
    for (day, tier), counts in daily.items():
        if not (filters.start <= day <= filters.end) or tier not in TIERS:
            continue
        for key, value in counts.items():
            totals[tier][key] += value
            totals[None][key] += value
    return totals


def _backlog_now(filters: DashboardFilters, now: datetime) -> dict:
    # The literal list matches the predicate of the covering index ticket_active_cover
    # (reports migration 0002), so this is an index-only scan of the open tickets.
    active = ", ".join(f"'{s}'" for s in ACTIVE_STATUSES)
    where = [f"status IN ({active})"]
    params: list[Any] = []
    for col, value in (
        ("category_id", filters.category_id),
        ("priority", filters.priority),
        ("tier", filters.tier),
    ):
        if value is not None:
            where.append(f"{col} = %s")
            params.append(value)
    cases = " ".join(f"WHEN created_at > %s THEN '{key}'" for key, _l, _lo, hi in AGE_BUCKETS if hi)
    case_params = [now - timedelta(days=hi) for _k, _l, _lo, hi in AGE_BUCKETS if hi]
    rows = _fetch(
        f"SELECT tier, CASE {cases} ELSE '{AGE_BUCKETS[-1][0]}' END AS age, COUNT(*), "
        "COUNT(*) FILTER (WHERE sla_breached_at IS NOT NULL) "
        f"FROM tickets_ticket WHERE {' AND '.join(where)} GROUP BY 1, 2",
        [*case_params, *params],
    )
    by_tier = dict.fromkeys(TIERS, 0)
    by_age = {key: 0 for key, *_ in AGE_BUCKETS}
    breached = 0
    for tier, age, count, br in rows:
        by_tier[tier] = by_tier.get(tier, 0) + count
        by_age[age] += count
        breached += br
    return {"by_tier": by_tier, "by_age": by_age, "breached": breached}


def _band(rate: float | None) -> dict[str, Any]:
    low, high = TIER1_BAND
    if rate is None:
        return {"rate": None, "band": "none", "text": "No Tier 1 tickets finished in this range"}
    if rate < low:
        return {"rate": rate, "band": "below", "text": "Below the 70–80% target band"}
    if rate > high:
        return {"rate": rate, "band": "above", "text": "Above the 70–80% target band"}
    return {"rate": rate, "band": "in", "text": "In the 70–80% target band"}


def _headline(daily: dict, backlog: dict, filters: DashboardFilters) -> dict[str, Any]:
    totals = _range_totals(daily, filters)
    all_t = totals[None]
    t1 = totals[1]
    tier1_rate = _ratio(t1["resolved"], t1["resolved"] + t1["escalated"])
    return {
        "headline": {
            "created": all_t["created"],
            "resolved": all_t["resolved"],
            "open": sum(backlog["by_tier"].values()),
            "open_sla_breached": backlog["breached"],
            "reopened": all_t["reopened"],
            "tier1_resolution": {
                **_band(tier1_rate),
                "resolved": t1["resolved"],
                "escalated": t1["escalated"],
            },
            "first_contact_rate": _ratio(all_t["resolved_first_contact"], all_t["resolved"]),
            "sla_breach_rate": _ratio(all_t["resolved_breached"], all_t["resolved"]),
            "sla_breached": all_t["resolved_breached"],
            "csat_average": _round(_ratio(all_t["csat_sum"], all_t["csat_count"])),
            "csat_responses": all_t["csat_count"],
            "csat_response_rate": _ratio(all_t["csat_count"], all_t["resolved"]),
            "pingpong": all_t["pingpong"],
            "pingpong_rate": _ratio(all_t["pingpong"], all_t["escalated"]),
        },
        "escalation_steps": [
            {
                "step": f"{t}→{t + 1}",
                "from_tier": t,
                "escalated": totals[t]["escalated"],
                "left_tier": totals[t]["departures"],
                "rate": _ratio(totals[t]["escalated"], totals[t]["departures"]),
            }
            for t in (1, 2, 3)
        ],
        "backlog": {
            "by_tier": [{"tier": t, "open": backlog["by_tier"].get(t, 0)} for t in TIERS],
            "by_age": [
                {"bucket": key, "label": label, "open": backlog["by_age"][key]}
                for key, label, *_ in AGE_BUCKETS
            ],
        },
    }


def _series(daily: dict, backlog: dict, filters: DashboardFilters, today: date) -> dict:
    days = filters.days
    created = [sum(daily.get((d, t), {}).get("created", 0) for t in TIERS) for d in days]
    resolved = [sum(daily.get((d, t), {}).get("resolved", 0) for t in TIERS) for d in days]
    escalations = {
        f"{t}→{t + 1}": [daily.get((d, t), {}).get("escalated", 0) for d in days] for t in (1, 2, 3)
    }
    # Backlog at the end of day D = open now − (arrivals − departures) after D.
    backlog_series: dict[int, list[int]] = {}
    for t in TIERS:
        running = backlog["by_tier"].get(t, 0)
        per_day = {}
        d = today
        while d >= filters.start:
            if d <= filters.end:
                per_day[d] = max(running, 0)
            c = daily.get((d, t))
            if c:
                running -= c["arrivals"] - c["departures"]
            d -= timedelta(days=1)
        backlog_series[t] = [per_day[d] for d in days]
    return {
        "days": [d.isoformat() for d in days],
        "created": created,
        "resolved": resolved,
        "escalations": escalations,
        "backlog": {f"Tier {t}": backlog_series[t] for t in TIERS},
    }


# ---------------------------------------------------------------------------
# Percentiles over the unnested arrays
# ---------------------------------------------------------------------------


def _times(src: _Sources, filters: DashboardFilters) -> dict:
    """Mean, median and p90 of each duration, per tier, per priority and overall, plus
    the resolution-time distribution per tier, in one statement: one scan of the
    arrays, and one sort per group for both percentiles (the array form of
    percentile_cont)."""
    rows_sql, params = src.tickets(filters.start, filters.end)
    stats = "COUNT(v), AVG(v), percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY v)"
    buckets = ", ".join(
        f"COUNT(*) FILTER (WHERE v >= {lo}" + (f" AND v < {hi})" if hi else ")")
        for _key, _label, lo, hi in RESOLUTION_BUCKETS
    )
    empty = ", ".join("NULL::bigint" for _ in RESOLUTION_BUCKETS)
    parts = []
    for metric, col, sets in (
        ("resolution", "resolution_seconds", "(tier), (priority), ()"),
        ("first_response", "first_response_seconds", "(tier), (priority), ()"),
        # Time in tier is only shown per tier: no overall sort of every stint.
        ("tier_time", "stint_seconds", "(tier)"),
    ):
        hist = buckets if metric == "resolution" else empty
        # Time in tier has no per-priority breakdown: the same codes without it.
        prio, grouping = (
            ("priority", "GROUPING(tier, priority)")
            if "priority" in sets
            else ("NULL::varchar", "GROUPING(tier) * 2 + 1")
        )
        parts.append(
            f"SELECT '{metric}', tier, {prio}, {grouping}, {stats}, {hist} "
            f"FROM r, unnest(r.{col}) v GROUP BY GROUPING SETS ({sets})"
        )
    rows = _fetch(f"WITH r AS MATERIALIZED {rows_sql} " + " UNION ALL ".join(parts), params)
    out: dict[str, dict[str, Any]] = {
        m: {
            "overall": None,
            "by_tier": {str(t): None for t in TIERS},
            "by_priority": dict.fromkeys(PRIORITIES),
        }
        for m in ("resolution", "first_response", "tier_time")
    }
    distribution = {f"Tier {t}": [0] * len(RESOLUTION_BUCKETS) for t in TIERS}
    for metric, tier, priority, grouping, n, mean, pcts, *hist in rows:
        pcts = pcts or (None, None)  # no values at all
        value = {
            "count": n,
            "mean": _round(mean),
            "median": _round(pcts[0]),
            "p90": _round(pcts[1]),
        }
        if grouping == 3:
            out[metric]["overall"] = value
        elif grouping == 1:  # grouped by tier (priority aggregated away)
            out[metric]["by_tier"][str(tier)] = value
            if metric == "resolution" and tier in TIERS:
                distribution[f"Tier {tier}"] = list(hist)
        else:
            out[metric]["by_priority"][priority] = value
    out["distribution"] = {
        "buckets": [label for _k, label, *_ in RESOLUTION_BUCKETS],
        "by_tier": distribution,
    }
    return out


def _per_tier(daily: dict, times: dict, filters: DashboardFilters) -> list[dict]:
    totals = _range_totals(daily, filters)
    rows = []
    for t in TIERS:
        c = totals[t]
        stint = times["tier_time"]["by_tier"][str(t)] or {}
        rows.append(
            {
                "tier": t,
                "handled": c["departures"],
                "resolved": c["resolved"],
                "escalated": c["escalated"],
                "median_handling_seconds": stint.get("median"),
                "p90_tier_seconds": stint.get("p90"),
                "csat_average": _round(_ratio(c["csat_sum"], c["csat_count"])),
                "csat_responses": c["csat_count"],
            }
        )
    return rows


# ---------------------------------------------------------------------------
# Categories, agents, articles, funnel
# ---------------------------------------------------------------------------


def _categories(src: _Sources, filters: DashboardFilters, limit: int = 10) -> list[dict]:
    first = min(filters.start, filters.end - timedelta(days=13))
    if filters.tier is None and filters.priority is None:
        # 50 rows a day (reports.models.DailyCategoryRollup) instead of ~500.
        rows_sql, params = src.rows("category", first, filters.end, dims=("category_id",))
    else:
        rows_sql, params = src.by_category(first, filters.end)
    week = filters.end - timedelta(days=6)
    prev_week = filters.end - timedelta(days=13)
    rows = _fetch(
        "SELECT r.category_id, c.name, "
        "SUM(created) FILTER (WHERE day >= %s)::bigint, "
        "SUM(created) FILTER (WHERE day >= %s)::bigint, "
        "SUM(created) FILTER (WHERE day >= %s AND day < %s)::bigint, "
        "SUM(escalated) FILTER (WHERE day >= %s)::bigint, "
        "SUM(pingpong) FILTER (WHERE day >= %s)::bigint "
        f"FROM {rows_sql} r JOIN tickets_category c ON c.id = r.category_id "
        "GROUP BY r.category_id, c.name ORDER BY 3 DESC NULLS LAST, c.name LIMIT %s",
        [filters.start, week, prev_week, week, filters.start, filters.start, *params, limit],
    )
    out = []
    for cat_id, name, total, this_week, last_week, escalated, pingpong in rows:
        this_week, last_week = this_week or 0, last_week or 0
        rising = this_week >= RISING_MIN_TICKETS and this_week >= RISING_FACTOR * max(last_week, 1)
        out.append(
            {
                "category_id": cat_id,
                "category": name,
                "created": total or 0,
                "this_week": this_week,
                "last_week": last_week,
                "rising": rising,
                "escalated": escalated or 0,
                "pingpong": pingpong or 0,
            }
        )
    return out


def _agents(src: _Sources, filters: DashboardFilters) -> list[dict]:
    rows_sql, params = src.rows("agent", filters.start, filters.end, dims=("tier",))
    rows = _fetch(
        f"WITH r AS MATERIALIZED {rows_sql}, "
        "c AS (SELECT agent_id, tier, SUM(handled)::bigint h, SUM(resolved)::bigint res, "
        "      SUM(escalated)::bigint esc, SUM(csat_sum)::bigint cs, SUM(csat_count)::bigint cc "
        "      FROM r GROUP BY agent_id, tier), "
        "p AS (SELECT agent_id, tier, percentile_cont(0.5) WITHIN GROUP (ORDER BY v) med "
        "      FROM r, unnest(r.stint_seconds) v GROUP BY agent_id, tier) "
        "SELECT c.agent_id, u.username, u.first_name, u.last_name, c.tier, c.h, c.res, c.esc, "
        "p.med, c.cs, c.cc FROM c LEFT JOIN p USING (agent_id, tier) "
        "JOIN auth_user u ON u.id = c.agent_id ORDER BY c.tier, c.h DESC, u.username",
        params,
    )
    return [
        {
            "agent_id": agent_id,
            "agent": username,
            "name": f"{first} {last}".strip() or username,
            "tier": tier,
            "handled": handled,
            "resolved": resolved,
            "escalated": escalated,
            "median_handling_seconds": _round(median),
            "csat_average": _round(_ratio(csat_sum, csat_count)),
            "csat_responses": csat_count,
        }
        for agent_id, username, first, last, tier, handled, resolved, escalated, median, csat_sum, csat_count in rows
    ]


def _articles(src: _Sources, filters: DashboardFilters, limit: int = 10) -> list[dict]:
    rows_sql, params = src.rows("article", filters.start, filters.end)
    rows = _fetch(
        "SELECT a.slug, a.title, SUM(r.resolved)::bigint, SUM(r.shown)::bigint, "
        "SUM(r.opened)::bigint, SUM(r.deflected)::bigint "
        f"FROM {rows_sql} r JOIN knowledgebase_article a ON a.id = r.article_id "
        "GROUP BY a.id, a.slug, a.title "
        "HAVING SUM(r.resolved) + SUM(r.deflected) > 0 "
        "ORDER BY SUM(r.resolved) + SUM(r.deflected) DESC, a.title LIMIT %s",
        [*params, limit],
    )
    return [
        {
            "slug": slug,
            "title": title,
            "resolved": resolved,
            "shown": shown,
            "opened": opened,
            "deflected": deflected,
        }
        for slug, title, resolved, shown, opened, deflected in rows
    ]


def _funnel(src: _Sources, filters: DashboardFilters) -> dict:
    rows_sql, params = src.rows("funnel", filters.start, filters.end)
    shown, opened, deflected = _fetch(
        "SELECT COALESCE(SUM(sessions_shown), 0)::bigint, COALESCE(SUM(sessions_opened), 0)::bigint, "
        f"COALESCE(SUM(sessions_deflected), 0)::bigint FROM {rows_sql} r",
        params,
    )[0]
    return {
        "sessions_shown": shown,
        "sessions_opened": opened,
        "sessions_deflected": deflected,
        "open_rate": _ratio(opened, shown),
        "deflection_rate": _ratio(deflected, shown),
    }


# ---------------------------------------------------------------------------
# Live reports over small tables: vendors, avoidable escalations
# ---------------------------------------------------------------------------


def _ticket_filter_sql(filters: DashboardFilters, ticket_col: str) -> tuple[str, list[Any]]:
    """Category/priority filters as a semi-join on the ticket of ``ticket_col``."""
    where, params = [], []
    for col, value in (("category_id", filters.category_id), ("priority", filters.priority)):
        if value is not None:
            where.append(f"t.{col} = %s")
            params.append(value)
    if not where:
        return "", []
    cond = " AND ".join(where)
    return (
        f" AND EXISTS (SELECT 1 FROM tickets_ticket t WHERE t.id = {ticket_col} AND {cond})",
        params,
    )


def _vendors(filters: DashboardFilters, now: datetime) -> list[dict]:
    if filters.tier not in (None, 4):
        return []
    extra, extra_params = _ticket_filter_sql(filters, "h.ticket_id")
    epoch = "EXTRACT(EPOCH FROM ({}))"
    rows = _fetch(
        # Aggregate the hand-offs first, then name the vendors: the range condition
        # then drives the scan, not the join.
        "WITH agg AS (SELECT h.vendor_id, "
        "COUNT(h.id) AS n, COUNT(h.first_response_at) AS responded, "
        f"AVG({epoch.format('h.first_response_at - h.created_at')}) AS resp_mean, "
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {epoch.format('h.first_response_at - h.created_at')}) AS resp_median, "
        "COUNT(*) FILTER (WHERE h.first_response_at <= h.respond_by) AS resp_in, "
        "COUNT(*) FILTER (WHERE h.first_response_at IS NULL AND h.revoked_at IS NULL "
        "                  AND h.respond_by < %s) AS resp_overdue, "
        "COUNT(h.done_at) AS done, "
        f"AVG({epoch.format('h.done_at - h.created_at')}) AS res_mean, "
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {epoch.format('h.done_at - h.created_at')}) AS res_median, "
        "COUNT(*) FILTER (WHERE h.done_at <= h.resolve_by) AS res_in, "
        "COUNT(*) FILTER (WHERE h.done_at IS NOT NULL AND EXISTS ("
        "    SELECT 1 FROM tickets_ticketevent e WHERE e.ticket_id = h.ticket_id "
        "    AND e.created_at > h.done_at AND e.kind = 'reopened')) AS reopened "
        "FROM tiers_vendorhandoff h "
        f"WHERE h.created_at >= %s AND h.created_at < %s {extra} GROUP BY h.vendor_id) "
        "SELECT v.id, v.company, v.name, "
        f"{epoch.format('v.response_target')}, {epoch.format('v.resolution_target')}, "
        "agg.n, agg.responded, agg.resp_mean, agg.resp_median, agg.resp_in, agg.resp_overdue, "
        "agg.done, agg.res_mean, agg.res_median, agg.res_in, agg.reopened "
        "FROM agg JOIN tiers_vendorcontact v ON v.id = agg.vendor_id ORDER BY v.company, v.name",
        [
            now,
            day_start(filters.start),
            day_start(filters.end + timedelta(days=1)),
            *extra_params,
        ],
    )
    out = []
    for (
        vid,
        company,
        name,
        resp_target,
        res_target,
        handoffs,
        responded,
        resp_mean,
        resp_median,
        resp_in_target,
        resp_overdue,
        done,
        res_mean,
        res_median,
        res_in_target,
        reopened,
    ) in rows:
        out.append(
            {
                "vendor_id": vid,
                "vendor": f"{company} ({name})",
                "handoffs": handoffs,
                "response_target_seconds": _round(resp_target),
                "responded": responded,
                "response_mean_seconds": _round(resp_mean),
                "response_median_seconds": _round(resp_median),
                "response_within_target_rate": _ratio(resp_in_target, responded),
                "response_overdue_now": resp_overdue,
                "resolution_target_seconds": _round(res_target),
                "done": done,
                "resolution_mean_seconds": _round(res_mean),
                "resolution_median_seconds": _round(res_median),
                "resolution_within_target_rate": _ratio(res_in_target, done),
                "reopened_after_fix": reopened,
                "reopen_after_fix_rate": _ratio(reopened, done),
            }
        )
    return out


def _int_json(key: str) -> str:
    # Cast only well-formed ids: a malformed event must not break the page.
    return f"CASE WHEN e.data->>'{key}' ~ '^[0-9]{{1,18}}$' THEN (e.data->>'{key}')::bigint END"


def _coaching(filters: DashboardFilters) -> list[dict]:
    """Avoidable escalations per escalating agent and category, with the articles
    that would have solved them (or "missing article": a KB gap)."""
    extra, extra_params = _ticket_filter_sql(filters, "e.ticket_id")
    tier_sql, tier_params = "", []
    if filters.tier is not None:
        tier_sql, tier_params = " AND e.data->>'tier' = %s", [str(filters.tier)]
    rows = _fetch(
        "WITH a AS ("
        f"  SELECT {_int_json('escalated_by')} AS agent_id, "
        f"         {_int_json('category_id')} AS category_id, "
        "          NULLIF(e.data->>'article', '') AS slug, "
        "          COALESCE((e.data->>'missing_article')::boolean, false) AS missing "
        "  FROM tickets_ticketevent e "
        f"  WHERE e.kind = 'avoidable' AND e.created_at >= %s AND e.created_at < %s {extra}{tier_sql}"
        ") "
        "SELECT a.agent_id, u.username, a.category_id, c.name, a.slug, ka.title, "
        "       COUNT(*), COUNT(*) FILTER (WHERE a.missing) "
        "FROM a LEFT JOIN auth_user u ON u.id = a.agent_id "
        "LEFT JOIN tickets_category c ON c.id = a.category_id "
        "LEFT JOIN knowledgebase_article ka ON ka.slug = a.slug "
        "GROUP BY 1, 2, 3, 4, 5, 6",
        [
            day_start(filters.start),
            day_start(filters.end + timedelta(days=1)),
            *extra_params,
            *tier_params,
        ],
    )
    groups: dict[tuple, dict[str, Any]] = {}
    for agent_id, username, cat_id, cat_name, slug, title, count, missing in rows:
        g = groups.setdefault(
            (agent_id, cat_id),
            {
                "agent_id": agent_id,
                "agent": username or "(unknown)",
                "category_id": cat_id,
                "category": cat_name or "(unknown)",
                "avoidable": 0,
                "missing_article": 0,
                "articles": [],
            },
        )
        g["avoidable"] += count
        g["missing_article"] += missing
        if slug:
            g["articles"].append({"slug": slug, "title": title or slug, "count": count})
    out = sorted(groups.values(), key=lambda g: (-g["avoidable"], g["agent"], g["category"]))
    for g in out:
        g["articles"].sort(key=lambda a: (-a["count"], a["title"]))
    return out

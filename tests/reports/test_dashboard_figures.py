"""Every dashboard figure on the hand-built day of ``conftest.py``; answers by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from reports.models import DailyTicketRollup, RollupDay
from reports.selectors import DashboardFilters, dashboard_summary
from reports.services import rollup_build_days, rollup_refresh

from .conftest import NOW, D

pytestmark = pytest.mark.django_db

RANGE = DashboardFilters(start=D, end=D + timedelta(days=2))


def summary(filters: DashboardFilters = RANGE, **kwargs) -> dict:
    with time_machine.travel(NOW, tick=False):
        return dashboard_summary(filters=filters, now=NOW, **kwargs)


def test_headline_figures(scenario):
    h = summary()["headline"]
    assert h["created"] == 6
    # A, B, C (twice: it was reopened and resolved again)
    assert h["resolved"] == 4
    assert h["reopened"] == 1
    # D (no first response yet), E (pending customer, clock paused), F (Tier 2)
    assert h["open"] == 3
    assert h["open_sla_breached"] == 0
    # Tier 1 resolved A, C, C and escalated B, F, F: 3 / 6, below the 70–80% band.
    assert h["tier1_resolution"] == {
        "rate": 0.5,
        "band": "below",
        "text": "Below the 70–80% target band",
        "resolved": 3,
        "escalated": 3,
    }
    # A and C's first resolution; C's second (after a reopen) and B's are not.
    assert h["first_contact_rate"] == 0.5
    # B breached its SLA before it was resolved: 1 of 4 resolutions.
    assert h["sla_breach_rate"] == 0.25
    assert h["csat_average"] == 4.0
    assert h["csat_responses"] == 2
    assert h["csat_response_rate"] == 0.5
    # F's second escalation followed a de-escalation.
    assert h["pingpong"] == 1
    assert h["pingpong_rate"] == round(1 / 3, 4)


def test_escalation_steps_and_backlog(scenario):
    s = summary()
    assert s["escalation_steps"] == [
        {"step": "1→2", "from_tier": 1, "escalated": 3, "left_tier": 6, "rate": 0.5},
        {"step": "2→3", "from_tier": 2, "escalated": 0, "left_tier": 2, "rate": 0.0},
        {"step": "3→4", "from_tier": 3, "escalated": 0, "left_tier": 0, "rate": None},
    ]
    assert s["backlog"]["by_tier"] == [
        {"tier": 1, "open": 2},
        {"tier": 2, "open": 1},
        {"tier": 3, "open": 0},
        {"tier": 4, "open": 0},
    ]
    # All three were created 51 hours before "now".
    assert {b["bucket"]: b["open"] for b in s["backlog"]["by_age"]} == {
        "lt_1d": 0,
        "1_3d": 3,
        "3_7d": 0,
        "7_30d": 0,
        "gt_30d": 0,
    }
    series = s["series"]
    assert series["days"] == ["2026-03-10", "2026-03-11", "2026-03-12"]
    assert series["created"] == [6, 0, 0]
    assert series["resolved"] == [4, 0, 0]
    assert series["escalations"]["1→2"] == [3, 0, 0]
    assert series["backlog"]["Tier 1"] == [2, 2, 2]
    assert series["backlog"]["Tier 2"] == [1, 1, 1]


def test_response_and_resolution_times(scenario):
    t = summary()["times"]
    # First responses: E 10 min, C 20 min (its resolution), A 30 min, B 1 h; D none yet.
    assert t["first_response"]["overall"] == {
        "count": 4,
        "mean": 1800.0,
        "median": 1500.0,
        "p90": 3060.0,
    }
    assert t["first_response"]["by_priority"]["normal"]["median"] == 1500.0
    assert t["first_response"]["by_priority"]["high"]["median"] == 3600.0
    assert t["first_response"]["by_priority"]["low"]["median"] == 600.0
    assert t["first_response"]["by_priority"]["urgent"] is None
    assert t["first_response"]["by_tier"]["1"]["count"] == 4
    # Resolutions: C 20 min, A 1 h, B 4 h, C again 5 h after creation.
    assert t["resolution"]["overall"]["count"] == 4
    assert t["resolution"]["overall"]["mean"] == 9300.0
    assert t["resolution"]["overall"]["median"] == 9000.0
    assert t["resolution"]["by_tier"]["1"] == {
        "count": 3,
        "mean": 7600.0,
        "median": 3600.0,
        "p90": 15120.0,
    }
    assert t["resolution"]["by_tier"]["2"]["median"] == 14400.0
    assert t["resolution"]["by_priority"]["high"]["median"] == 14400.0


def test_time_in_each_tier(scenario):
    t = summary()["times"]["tier_time"]
    # Tier 1 stints: A 1 h, B 2 h, C 20 min and 2 h (after the reopen), F 1 h twice.
    assert t["by_tier"]["1"] == {"count": 6, "mean": 4400.0, "median": 3600.0, "p90": 7200.0}
    # Tier 2 stints: B 2 h (resolved), F 1 h (de-escalated).
    assert t["by_tier"]["2"] == {"count": 2, "mean": 5400.0, "median": 5400.0, "p90": 6840.0}
    assert t["by_tier"]["3"] is None


def test_resolution_distribution(scenario):
    dist = summary()["resolution_distribution"]
    assert dist["buckets"][:3] == ["< 1 h", "1–4 h", "4–8 h"]
    assert dist["by_tier"]["Tier 1"] == [1, 1, 1, 0, 0, 0, 0]
    assert dist["by_tier"]["Tier 2"] == [0, 0, 1, 0, 0, 0, 0]


def test_per_tier_and_per_agent_tables(scenario, agent1, agent2):
    s = summary()
    tiers = {row["tier"]: row for row in s["per_tier"]}
    assert tiers[1] == {
        "tier": 1,
        "handled": 6,
        "resolved": 3,
        "escalated": 3,
        "median_handling_seconds": 3600.0,
        "p90_tier_seconds": 7200.0,
        "csat_average": 5.0,
        "csat_responses": 1,
    }
    assert tiers[2]["handled"] == 2
    assert tiers[2]["resolved"] == 1
    assert tiers[2]["csat_average"] == 3.0
    agents = {row["agent"]: row for row in s["agents"]}
    assert set(agents) == {"agent1", "agent2"}
    assert agents["agent1"]["handled"] == 6
    assert agents["agent1"]["resolved"] == 3
    assert agents["agent1"]["escalated"] == 3
    assert agents["agent1"]["median_handling_seconds"] == 3600.0
    assert agents["agent1"]["csat_average"] == 5.0
    assert agents["agent2"]["handled"] == 2
    assert agents["agent2"]["resolved"] == 1
    assert agents["agent2"]["escalated"] == 0
    assert agents["agent2"]["median_handling_seconds"] == 5400.0
    assert agents["agent2"]["csat_average"] == 3.0


def test_categories_coaching_and_articles(scenario, agent1, category):
    s = summary()
    assert s["categories"] == [
        {
            "category_id": category.pk,
            "category": "Password reset",
            "created": 6,
            "this_week": 6,
            "last_week": 0,
            "rising": True,
            "escalated": 3,
            "pingpong": 1,
        }
    ]
    assert s["coaching"] == [
        {
            "agent_id": agent1.pk,
            "agent": "agent1",
            "category_id": category.pk,
            "category": "Password reset",
            "avoidable": 2,
            "missing_article": 1,
            "articles": [{"slug": "reset-password", "title": "Reset your password", "count": 1}],
        }
    ]
    assert s["articles"] == [
        {
            "slug": "reset-password",
            "title": "Reset your password",
            "resolved": 1,
            "shown": 0,
            "opened": 0,
            "deflected": 0,
        }
    ]


def test_filters_narrow_the_figures(scenario):
    high = summary(DashboardFilters(start=RANGE.start, end=RANGE.end, priority="high"))
    assert high["headline"]["created"] == 1
    assert high["headline"]["resolved"] == 1
    assert high["headline"]["open"] == 0
    tier2 = summary(DashboardFilters(start=RANGE.start, end=RANGE.end, tier=2))
    # Facts in Tier 2: B resolved there; nothing was created there.
    assert tier2["headline"]["created"] == 0
    assert tier2["headline"]["resolved"] == 1
    assert tier2["headline"]["open"] == 1
    later = summary(DashboardFilters(start=D + timedelta(days=1), end=D + timedelta(days=2)))
    assert later["headline"]["created"] == 0
    # Still open now, whatever the range.
    assert later["headline"]["open"] == 3


def test_rollup_and_live_agree(scenario):
    live = summary(use_rollups=False)
    with time_machine.travel(NOW, tick=False):
        built = rollup_refresh(now=NOW)
    # D-… from the first ticket (D) through yesterday (D+1), each built once (the
    # missing days are the recent ones rebuilt anyway); today stays live.
    assert built == 2
    assert RollupDay.objects.filter(day=D).exists()
    assert DailyTicketRollup.objects.filter(day=D).exists()
    rolled = summary()
    assert rolled["live_from"] == "2026-03-12"
    assert live["live_from"] == "2026-02-27"
    for key in ("generated_at", "live_from"):
        live.pop(key)
        rolled.pop(key)
    assert rolled == live


def test_rollup_rebuild_is_idempotent_and_skips_today(scenario):
    with time_machine.travel(NOW, tick=False):
        first = rollup_build_days(first=D, last=D + timedelta(days=5), now=NOW)
        rows = DailyTicketRollup.objects.count()
        again = rollup_build_days(first=D, last=D + timedelta(days=5), now=NOW)
    assert first == again == 2  # D and D+1; D+2 is today, D+3… have not happened
    assert DailyTicketRollup.objects.count() == rows


def test_backfill_reports_progress_per_chunk(scenario, monkeypatch):
    """A long backfill (the bench seeder's two years) is built and committed a chunk of
    days at a time, reporting its progress after each."""
    from reports import services

    monkeypatch.setattr(services, "CHUNK_DAYS", 1)
    progress = []
    with time_machine.travel(NOW, tick=False):
        built = services.rollup_refresh(
            now=NOW, recent_days=0, on_progress=lambda done, total: progress.append((done, total))
        )
    assert built == 2  # D and D+1 (D+2 is today)
    assert progress == [(1, 2), (2, 2)]
    assert set(RollupDay.objects.values_list("day", flat=True)) == {D, D + timedelta(days=1)}


def test_category_less_rollup_is_the_ticket_rollup_summed(scenario, category, make_ticket, agent1):
    """The dashboard reads DailyTierRollup when no category is chosen: it must hold the
    ticket rollup's sums and the same values in its (sorted) arrays, and the figures
    must not depend on which of the two tables answered."""
    from django.db import connection

    from reports.models import DailyTierRollup
    from reports.rollup import TICKET_ARRAYS, TICKET_COUNTS
    from tests.factories import CategoryFactory
    from tickets.services import core

    other = CategoryFactory(name="Printers", entry_tier=1)
    with time_machine.travel(datetime(2026, 3, 10, 15, 0, tzinfo=UTC), tick=False) as clock:
        p = make_ticket(category=other, priority="normal", subject="Printer")
        clock.move_to(datetime(2026, 3, 10, 15, 45, tzinfo=UTC))
        core.ticket_resolve(ticket=p, actor=agent1, resolution="Paper.")
    with time_machine.travel(NOW, tick=False):
        rollup_refresh(now=NOW)
    sums = ", ".join(f"SUM({c})::int" for c in TICKET_COUNTS)
    merged = ", ".join(
        f"(SELECT COALESCE(array_agg(v ORDER BY v), '{{}}') FROM reports_dailyticketrollup x, "  # noqa: S608
        f"unnest(x.{a}) v WHERE x.day = r.day AND x.priority = r.priority AND x.tier = r.tier)"
        for a in TICKET_ARRAYS
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT day, priority, tier, {sums}, {merged} FROM reports_dailyticketrollup r "  # noqa: S608
            "GROUP BY day, priority, tier ORDER BY 1, 2, 3"
        )
        expected = [list(row) for row in cursor.fetchall()]
    fields = ["day", "priority", "tier", *TICKET_COUNTS, *TICKET_ARRAYS]
    stored = [
        list(row)
        for row in DailyTierRollup.objects.order_by("day", "priority", "tier").values_list(*fields)
    ]
    assert stored == expected
    # Some rows merged both categories (D, normal, Tier 1).
    assert len(stored) < DailyTicketRollup.objects.count()

    # Both categories through the per-category rollup = no filter through the tier one.
    everything = summary()
    per_category = [
        summary(DashboardFilters(start=RANGE.start, end=RANGE.end, category_id=c))
        for c in (category.pk, other.pk)
    ]
    assert everything["headline"]["created"] == sum(s["headline"]["created"] for s in per_category)
    assert everything["headline"]["resolved"] == sum(
        s["headline"]["resolved"] for s in per_category
    )
    res = everything["times"]["resolution"]["overall"]
    assert res["count"] == sum(
        (s["times"]["resolution"]["overall"] or {"count": 0})["count"] for s in per_category
    )

    # The per-category rollup holds the ticket rollup's sums per day and category, and
    # the top-categories table reads the same with or without a priority filter that
    # selects everything the other would (every ticket here has a priority).
    from reports.models import DailyCategoryRollup

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT day, category_id, SUM(created)::int, SUM(escalated)::int, "
            "SUM(pingpong)::int FROM reports_dailyticketrollup GROUP BY 1, 2 ORDER BY 1, 2"
        )
        expected_categories = [list(row) for row in cursor.fetchall()]
    assert [
        list(row)
        for row in DailyCategoryRollup.objects.order_by("day", "category_id").values_list(
            "day", "category_id", "created", "escalated", "pingpong"
        )
    ] == expected_categories
    by_priority: dict[str, dict] = {}
    for p in ("low", "normal", "high", "urgent"):
        filtered = summary(DashboardFilters(start=RANGE.start, end=RANGE.end, priority=p))
        for c in filtered["categories"]:
            acc = by_priority.setdefault(c["category"], dict.fromkeys(c, 0))
            for k in ("created", "this_week", "last_week", "escalated", "pingpong"):
                acc[k] += c[k]
    for c in everything["categories"]:
        for k in ("created", "this_week", "last_week", "escalated", "pingpong"):
            assert c[k] == by_priority[c["category"]][k], (c["category"], k)


def test_migration_backfill_matches_the_rollup_sql(scenario):
    """Migrations 0003 and 0005 fill DailyTierRollup and DailyCategoryRollup from the existing ticket rollup (a rebuild of
    every day would take minutes): it must store what the rollup SQL stores."""
    import importlib

    from django.apps import apps
    from django.db import connection

    from reports.models import DailyTierRollup

    with time_machine.travel(NOW, tick=False):
        rollup_refresh(now=NOW)
    fields = [f.attname for f in DailyTierRollup._meta.fields if f.attname != "id"]
    built = list(DailyTierRollup.objects.order_by("day", "priority", "tier").values_list(*fields))
    assert built
    DailyTierRollup.objects.all().delete()
    migration = importlib.import_module("reports.migrations.0003_tier_rollup")
    with connection.schema_editor() as editor:
        migration.backfill(apps, editor)
    assert (
        list(DailyTierRollup.objects.order_by("day", "priority", "tier").values_list(*fields))
        == built
    )

    from reports.models import DailyCategoryRollup

    cat_fields = ["day", "category_id", "created", "escalated", "pingpong"]
    cats = list(DailyCategoryRollup.objects.order_by("day", "category_id").values_list(*cat_fields))
    assert cats
    DailyCategoryRollup.objects.all().delete()
    with connection.schema_editor() as editor:
        importlib.import_module("reports.migrations.0005_category_rollup").backfill(apps, editor)
    assert (
        list(DailyCategoryRollup.objects.order_by("day", "category_id").values_list(*cat_fields))
        == cats
    )

"""KB latency goals are judged on the one-connection measurement (bench/run.py):
under 32 connections, queueing alone puts any page's p95 above 20 ms on 2 cores."""

from __future__ import annotations

from bench.run import ONE_CONNECTION_NOTE, Goal, build_targets, render_markdown, render_table

FX = {"category_id": 1, "tier1_reference": "TD-000001", "tracking_token": "t"}


def _row(**extra) -> dict:
    row = {
        "title": "KB search page",
        "goal": "p95 ≤ 20 ms",
        "method": "GET",
        "rps": 400.0,
        "p50_ms": 70.0,
        "p95_ms": 90.0,
        "p99_ms": 120.0,
        "queries": 0,
        "non_2xx": 0,
        "non_ok": 0,
        "ratio": 0.5,
        "status": "met",
    }
    row.update(extra)
    return row


def test_kb_targets_and_the_ceiling_are_measured_with_one_connection_and_others_are_not():
    flagged = {t.name for t in build_targets(FX) if t.one_connection}
    assert flagged == {"kb_search", "kb_suggest", "ceiling"}


def test_p95_goal_is_judged_at_one_connection_when_measured():
    goal = Goal(max_p95_ms=20)
    one = {"p50_ms": 6.0, "p95_ms": 9.0, "p99_ms": 12.0, "rps": 150.0, "non_ok": 0}
    # 90 ms at 32 connections is the queue; 9 ms one request at a time meets the goal.
    assert goal.misses(_row(one_connection=one)) == []
    slow = dict(one, p95_ms=25.0)
    assert goal.misses(_row(one_connection=slow)) == ["p95 25.0 ms > 20 ms at 1 connection"]
    # Without the one-connection figure the 32-connection p95 is judged, as before.
    assert goal.misses(_row()) == ["p95 90.0 ms > 20 ms"]


def test_report_shows_a_one_connection_row_and_explains_it():
    one = {
        "rps": 150.0,
        "p50_ms": 6.0,
        "p95_ms": 9.0,
        "p99_ms": 12.0,
        "non_ok": 0,
        "goal": "p95 ≤ 20 ms",
        "status": "met",
    }
    report = {
        "label": "t",
        "date": "2026-11-26T04:00:00+00:00",
        "machine": {
            "cpu": "x",
            "cores": 2,
            "memory_gb": 4,
            "python": "3.11",
            "load_avg_at_start": [0],
        },
        "config": {
            "database": "d",
            "data": {"tickets": 1, "events": 1, "articles": 1},
            "load_tool": "wrk",
            "connections": 32,
            "rounds": 1,
            "round_seconds": 1,
            "gunicorn_workers": 4,
            "settings": "s",
        },
        "targets": {"kb_search": _row(one_connection=one)},
        "memory": {"gunicorn_worker_peak_mb": 90, "celery_worker_peak_mb": 90},
        "kb": {"status": "skipped"},
        "escalation": {"status": "skipped"},
    }
    table = render_table(report)
    assert "| KB search page (1 connection) | p95 ≤ 20 ms | 150 | 6.0 | 9.0 | 12.0 |" in table
    assert "met (p95 judged at 1 connection)" in table
    md = render_markdown(report)
    assert ONE_CONNECTION_NOTE in md
    assert "Little's law" in md


def test_the_ceilings_one_connection_row_is_a_reference():
    one = {"rps": 500.0, "p50_ms": 1.5, "p95_ms": 2.5, "p99_ms": 4.0, "non_ok": 0}
    one.update(goal="reference", status="–")
    row = _row(title="Ceiling (bare Django page)", goal="reference", one_connection=one)
    assert Goal().misses(row) == []
    report_table = render_table(
        {
            "date": "2026-11-26T04:00:00+00:00",
            "machine": {"cores": 2, "memory_gb": 4},
            "targets": {"ceiling": row},
            "memory": {},
            "kb": {"status": "skipped"},
            "escalation": {"status": "skipped"},
        }
    )
    assert "| Ceiling (bare Django page) (1 connection) | reference | 500 |" in report_table
    assert "judged at 1 connection" not in report_table

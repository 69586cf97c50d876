"""The benchmark harness, end to end on tiny data, so that `make bench` never rots.

Seeds a throw-away database next to the test database (2,000 tickets), serves it with
gunicorn and production settings, drives every target with wrk for one 1-second
round, and checks the report: every target is there, nothing answered 5xx.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from bench.common import connect, with_db
from tests.dburl import url_of
from tests.ports import ephemeral_port

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {
    "agent_queue",
    "agent_ticket",
    "tracking",
    "submission",
    "api_tickets",
    "kb_search",
    "kb_suggest",
    "dashboard",
    "metrics_api",
    "ceiling",
}


@pytest.fixture
def smoke_db_url():
    db = settings.DATABASES["default"]
    if shutil.which("wrk") is None:
        if os.environ.get("CI"):
            pytest.fail("wrk is missing: `make wrk` installs Debian's package")
        pytest.skip("wrk is not installed (make wrk)")
    base = url_of(db, name="postgres")
    # Beside the configured database, never the test database pytest-django manages.
    url = with_db(base, f"{db['NAME']}_benchsmoke")
    yield url
    conn = connect(base)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}_benchsmoke" WITH (FORCE)')
    conn.close()


@pytest.mark.timeout(600)
def test_bench_harness_reports_every_target_without_server_errors(smoke_db_url, tmp_path):
    out_json, out_md = tmp_path / "bench.json", tmp_path / "BENCHMARKS.md"
    port = int(os.environ.get("BENCH_SMOKE_PORT") or ephemeral_port())
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/1"
    cmd = [
        sys.executable, str(ROOT / "bench" / "run.py"), "--label", "smoke",
        "--db-url", smoke_db_url, "--redis-url", redis_url, "--aux-redis-url", redis_url,
        "--tickets", "2000", "--articles", "200", "--force-seed",
        "--rounds", "1", "--round-seconds", "1", "--connections", "4", "--port", str(port),
        "--no-aux", "--md", str(out_md), "--json", str(out_json),
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=540, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]

    report = json.loads(out_json.read_text())
    assert set(report["targets"]) == TARGETS
    for name, result in report["targets"].items():
        # Every target is a contract URL: one that answers 404 is a regression.
        assert not result["status"].startswith("missing"), f"{name}: {result['status']}"
        assert result["requests"] > 0, name
        assert result["s5xx"] == 0, f"{name} answered 5xx: {result}"
        assert result["socket_errors"] == 0, f"{name}: {result}"
    # The pages of the foundation exist, so they are measured, not reported missing.
    for name in ("agent_queue", "agent_ticket", "tracking", "submission", "ceiling"):
        assert "rps" in report["targets"][name], report["targets"][name]
    assert report["targets"]["submission"]["non_ok"] == 0  # every POST made a ticket (302)
    assert report["targets"]["agent_queue"]["queries"] <= 12
    # The KB latency goals are also measured one request at a time (bench/run.py).
    for name in ("kb_search", "kb_suggest"):
        one = report["targets"][name]["one_connection"]
        assert one["requests"] > 0 and one["s5xx"] == 0, one
    assert "(1 connection)" in out_md.read_text()
    assert report["memory"]["gunicorn_worker_peak_mb"] > 0
    md = out_md.read_text()
    assert "| Target | Goal |" in md
    assert "Ceiling (bare Django page)" in md
    # The seeded tickets are searchable: the side table the queue search reads is full.
    conn = connect(smoke_db_url)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM tickets_ticket), (SELECT count(*) FROM tickets_ticketsearch)"
        )
        tickets, searchable = cur.fetchone()
    conn.close()
    assert tickets >= 2000 and searchable == tickets

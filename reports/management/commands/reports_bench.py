"""Time dashboard requests end to end (view, SQL, template) on the current database.

    manage.py reports_fake_data && manage.py reports_rollup && manage.py reports_bench

Each case is requested ``--repeat`` times through Django's test client as the
first manager; the median and the slowest are printed, with the query count, and the
CPU time per request: this process's plus the PostgreSQL backend's (read from
``/proc/<pid>/stat`` when the database runs on this machine). On a shared machine the
wall-clock times move with the others' load; the CPU time barely does, and is what a
request costs on an idle one. ``REPORTS_CACHE_SECONDS=0`` measures the cold path.
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import override_settings

from reports.services import local_today
from tickets.models import Category
from tiers.selectors import managers


class Command(BaseCommand):
    help = "Time the dashboard, its CSV exports and the metrics API."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--repeat", type=int, default=5)

    def handle(self, *args, **opts) -> None:
        profile = managers().first()
        if profile is None:
            raise CommandError("No manager: run `manage.py seed_demo` first.")
        client = Client()
        client.force_login(profile.user)
        category = Category.objects.order_by("id").first()
        cases = [
            ("dashboard, last 7 days", "/dashboard/?range=7"),
            ("dashboard, last 30 days", "/dashboard/?range=30"),
            ("dashboard, last 90 days", "/dashboard/?range=90"),
            ("dashboard, custom 92 days", "/dashboard/?range=custom&start={y}&end={t}"),
            ("dashboard, 30 days, Tier 1 + high", "/dashboard/?range=30&tier=1&priority=high"),
            ("dashboard, 30 days, one category", f"/dashboard/?range=30&category={category.pk}"),
            ("CSV export agents, 30 days", "/dashboard/export/agents.csv?range=30"),
            ("API summary JSON, 90 days", "/api/v1/metrics/summary/?range=90"),
            ("API summary CSV, 90 days", "/api/v1/metrics/summary/?range=90&format=csv"),
        ]
        today = local_today()
        start = today - timedelta(days=91)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            stat = Path(f"/proc/{cursor.fetchone()[0]}/stat")
        tick = os.sysconf("SC_CLK_TCK")

        def cpu() -> float:
            """Seconds of CPU of this process and of its database backend."""
            backend = 0.0
            if stat.exists():  # a local PostgreSQL
                fields = stat.read_text().rsplit(")", 1)[1].split()
                backend = (int(fields[11]) + int(fields[12])) / tick
            return time.process_time() + backend

        self.stdout.write(f"{'case':40} {'median':>8} {'max':>8} {'queries':>8} {'CPU':>8}")
        with override_settings(DEBUG=True):
            for name, url in cases:
                url = url.format(y=start.isoformat(), t=today.isoformat())
                client.get(url)  # warm the connection and caches
                timings = []
                cpu_started = cpu()
                for _ in range(opts["repeat"]):
                    reset_queries()
                    started = time.perf_counter()
                    response = client.get(url)
                    timings.append((time.perf_counter() - started) * 1000)
                    if response.status_code != 200:
                        raise CommandError(f"{url}: HTTP {response.status_code}")
                cpu_ms = (cpu() - cpu_started) / opts["repeat"] * 1000
                queries = len(connection.queries)
                self.stdout.write(
                    f"{name:40} {statistics.median(timings):7.0f}ms {max(timings):7.0f}ms "
                    f"{queries:8d} {cpu_ms:6.0f}ms"
                )

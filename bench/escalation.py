#!/usr/bin/env python
"""Escalation engine benchmark.

    python bench/escalation.py --throughput 10000 --lag 200 --json out.json

* throughput: N tickets overdue at once, one ``escalation_sweep()`` in this process;
  promotions per second, and a check that each ticket was promoted exactly once.
* lag: a real Celery worker and beat (sweep every ESCALATION_SWEEP_SECONDS, default
  1 s) promote M tickets whose deadlines are spread over ~20 s; the lag of each is
  ``acted_at - deadline`` as the promotion event records it (median, p99, max).

Uses DATABASE_URL and CELERY_BROKER_URL from the environment (PostgreSQL + Redis);
migrates the database if needed, works in a category of its own and deletes what it
created. Prints progress on stderr, the result as JSON on stdout (and to --json).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from helpdesk.demo_data import POLICIES  # noqa: E402
from tests.tiers.helpers import make_tickets_due as make_tickets  # noqa: E402
from tickets.models import Category, Ticket, TicketEvent  # noqa: E402
from tiers.models import BusinessCalendar, EscalationPolicy  # noqa: E402
from tiers.services import escalation_sweep  # noqa: E402

BENCH_SLUG = "bench-escalation"


def say(message: str) -> None:
    print(f"[bench/escalation] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def prepare() -> Category:
    call_command("migrate", verbosity=0)
    if not BusinessCalendar.objects.filter(is_default=True).exists():
        BusinessCalendar.objects.get_or_create(
            name="24×7", defaults={"is_24x7": True, "is_default": True}
        )
    for tier, budgets in POLICIES.items():
        for priority, budget in budgets.items():
            EscalationPolicy.objects.get_or_create(
                tier=tier, priority=priority, defaults={"budget": budget}
            )
    category, _ = Category.objects.get_or_create(
        slug=BENCH_SLUG,
        defaults={"name": "Benchmark (escalation)", "entry_tier": 1, "is_active": False},
    )
    cleanup(category)
    return category


def cleanup(category: Category) -> None:
    Ticket.objects.filter(category=category).delete()
    analyze(vacuum=True)


def analyze(*, vacuum: bool = False) -> None:
    """Fresh planner statistics, as autovacuum keeps them on a live system; without them
    a just-loaded table is planned as if it were empty."""
    with connection.cursor() as cursor:
        # The side table of the searchable text (tickets migration 0009) follows every
        # ticket insert and delete, so its dead rows matter as much.
        for table in ("tickets_ticket", "tickets_ticketsearch", "tickets_ticketevent"):
            cursor.execute(f"{'VACUUM ' if vacuum else ''}ANALYZE {table}")


def drop_queued_notifications(event_ids: set[int]) -> int:
    """The throughput sweep queued notification tasks for its events; remove them from
    the broker so no worker spends time on events this script deletes."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return 0
    import redis

    client = redis.Redis.from_url(url)
    removed = 0
    try:
        # kombu keeps one list per priority step: "celery", "celery\x06\x163", …
        queues = ["celery"] + [f"celery\x06\x16{step}" for step in (3, 6, 9)]
        for queue, raw in ((q, r) for q in queues for r in client.lrange(q, 0, -1)):
            try:
                message = json.loads(raw)
                if message["headers"].get("task") != "tiers.tasks.events_notify":
                    continue
                args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
                ids = set(kwargs.get("event_ids") or (args[0] if args else []))
            except (ValueError, KeyError, TypeError):
                continue
            if ids and ids <= event_ids:
                removed += client.lrem(queue, 1, raw)
    finally:
        client.close()
    return removed


def _sweeps(parallel: int, batch: int | None) -> None:
    """``parallel`` sweeps at once, each on its own connection, as overlapping beat
    ticks on a prefork worker would run them; SKIP LOCKED splits the work."""
    if parallel <= 1:
        escalation_sweep(batch=batch)
        return
    errors: list[BaseException] = []

    def run() -> None:
        try:
            escalation_sweep(batch=batch)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def settle() -> dict:
    """Sweep what came due on its own since the data was seeded or last swept: the
    seeded backlog's deadlines and warnings pass with the clock (a bench database is
    reused for days), and a live system's beat would have handled them one second at
    a time. Timing them with the bench's own tickets would measure that backlog."""
    started = time.perf_counter()
    report = escalation_sweep()
    settled = {
        "promoted": report.promoted_count,
        "warnings": len(report.warnings),
        "sla_events": len(report.sla_warnings) + len(report.sla_breaches),
        "seconds": round(time.perf_counter() - started, 3),
    }
    say(
        "throughput: settled what came due before timing: {promoted} promotions, "
        "{warnings} tier warnings, {sla_events} SLA events in {seconds} s".format(**settled)
    )
    return settled


def bench_throughput(category: Category, n: int, batch: int | None, parallel: int = 1) -> dict:
    settled = settle()
    say(f"throughput: creating {n} overdue tickets")
    now = timezone.now()
    ids = make_tickets(category, [now - timedelta(seconds=1 + i / n) for i in range(n)])
    analyze()
    say("throughput: sweeping")
    started = time.perf_counter()
    _sweeps(parallel, batch)
    seconds = time.perf_counter() - started
    events = TicketEvent.objects.filter(kind=TicketEvent.Kind.PROMOTED, ticket_id__in=ids)
    per_ticket = events.values("ticket_id").distinct().count()
    exactly_once = events.count() == n == per_ticket
    promoted_now = Ticket.objects.filter(pk__in=ids, tier=2).count()
    dropped = drop_queued_notifications(set(events.values_list("pk", flat=True)))
    result = {
        "tickets": n,
        "promoted": promoted_now,
        "seconds": round(seconds, 3),
        "promotions_per_s": round(promoted_now / seconds, 1),
        "batch": batch or settings.ESCALATION_SWEEP_BATCH,
        "parallel_sweeps": parallel,
        "exactly_once": exactly_once,
        "notify_tasks_dropped": dropped,
        "settled_before": settled,
    }
    say(
        f"throughput: {result['promotions_per_s']} promotions/s ({promoted_now} in {seconds:.2f} s)"
    )
    cleanup(category)
    return result


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
        [sys.executable, "-m", "celery", "-A", "helpdesk", *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def bench_lag(category: Category, m: int, spread_s: float) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-escalation-"))
    env = {
        **os.environ,
        "EMAIL_URL": "dummymail://",
        "TIERDESK_VAR_DIR": str(tmp / "var"),
        "ESCALATION_SWEEP_SECONDS": os.environ.get("ESCALATION_SWEEP_SECONDS", "1"),
    }
    # As the Procfile runs them: a prefork worker (2 processes) and beat.
    worker = _start(
        ["worker", "--loglevel=INFO", "--concurrency=2", "--without-gossip", "--without-mingle",
         "-n", f"bench-escalation-{os.getpid()}@%h"],
        env, tmp / "worker.log",
    )  # fmt: skip
    beat = _start(["beat", "--loglevel=INFO", "-s", str(tmp / "beat-schedule")], env, tmp / "beat.log")  # fmt: skip
    try:
        say("lag: waiting for the worker")
        deadline = time.monotonic() + 60
        while b"ready." not in (tmp / "worker.log").read_bytes():
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("worker did not start:\n" + (tmp / "worker.log").read_text())
            time.sleep(0.2)
        start = timezone.now() + timedelta(seconds=3)
        deadlines = [start + timedelta(seconds=spread_s * i / m) for i in range(m)]
        ids = make_tickets(category, deadlines)
        say(f"lag: {m} tickets due between now+3 s and now+{3 + spread_s:.0f} s")
        wait_until = time.monotonic() + 3 + spread_s + 30
        while time.monotonic() < wait_until:
            left = Ticket.objects.filter(pk__in=ids, tier=1).count()
            if not left:
                break
            time.sleep(0.5)
        events = list(
            TicketEvent.objects.filter(kind=TicketEvent.Kind.PROMOTED, ticket_id__in=ids).values(
                "ticket_id", "data", "created_at"
            )
        )
        lags = [e["data"]["lag_ms"] for e in events]
        by_deadline = {
            e["ticket_id"]: (e["created_at"] - datetime.fromisoformat(e["data"]["deadline"]))
            / timedelta(milliseconds=1)
            for e in events
        }
        if not lags:
            raise RuntimeError("nothing was promoted:\n" + (tmp / "worker.log").read_text()[-3000:])
        result = {
            "tickets": m,
            "promoted": len(events),
            "exactly_once": len(events) == len({e["ticket_id"] for e in events}) == m,
            "sweep_seconds": float(env["ESCALATION_SWEEP_SECONDS"]),
            "median_ms": round(statistics.median(lags), 1),
            "p99_ms": round(percentile(lags, 99), 1),
            "max_ms": round(max(lags), 1),
            "p99_commit_ms": round(percentile(list(by_deadline.values()), 99), 1),
        }
        say(
            f"lag: median {result['median_ms']} ms, p99 {result['p99_ms']} ms, "
            f"max {result['max_ms']} ms over {len(lags)} promotions"
        )
        return result
    finally:
        for proc in (beat, worker):
            proc.send_signal(signal.SIGTERM)
        for proc in (beat, worker):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        cleanup(category)
        if os.environ.get("BENCH_KEEP_LOGS"):
            say(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--throughput", type=int, default=10000, help="overdue tickets (0: skip)")
    parser.add_argument("--lag", type=int, default=200, help="tickets for the lag run (0: skip)")
    parser.add_argument("--spread", type=float, default=20.0, help="lag deadlines span (s)")
    parser.add_argument("--batch", type=int, default=None, help="sweep batch size")
    parser.add_argument("--parallel", type=int, default=1, help="concurrent sweeps (threads)")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args()
    category = prepare()
    result: dict = {}
    if args.throughput:
        result["throughput"] = bench_throughput(
            category, args.throughput, args.batch, args.parallel
        )
    if args.lag:
        result["lag"] = bench_lag(category, args.lag, args.spread)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()

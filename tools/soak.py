#!/usr/bin/env python3
"""Bounded soak test: mixed traffic against a production-like stack on loopback.

Starts its own PostgreSQL cluster (database ``tierdesk_soak``), Redis, gunicorn, a
Celery worker and a Celery beat, all on loopback ports reserved for it, with DEBUG off.
Then for ``--minutes`` it runs customers (submit, read the tracking page, reply, read
help articles) and agents (open the queue, claim, reply, resolve) while the beat's
escalation sweep promotes tickets whose (deliberately short) tier budgets run out.

Afterwards it reports throughput, latency percentiles and status counts (there must
be no 5xx) and checks the database: every ticket a customer was told was submitted
exists with its CREATED event and every reply that was confirmed; no ticket was
promoted twice for one deadline. Exit status 0 only when all of that holds.

    make soak                                  # 10 minutes
    .venv/bin/python tools/soak.py --minutes 3
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.faults.harness import (  # noqa: E402
    Browser,
    CeleryBeat,
    CeleryWorker,
    Gunicorn,
    PostgresCluster,
    RedisServer,
    collectstatic,
    django_env,
    everything_stopped,
    form_value,
    manage,
)

#: Short budgets so tickets really escalate during a few minutes of soak.
SETUP = """
from datetime import timedelta
from tiers.models import EscalationPolicy
EscalationPolicy.objects.filter(tier=1).update(budget=timedelta(seconds={t1}))
EscalationPolicy.objects.filter(tier=2).update(budget=timedelta(seconds={t2}))
EscalationPolicy.objects.filter(tier__gte=3).update(budget=timedelta(days=30))
"""

REFERENCE = re.compile(r"TD-\d{6}")
CATEGORY_OPTION = re.compile(r'<option value="(\d+)"')
ARTICLE_LINK = re.compile(r'href="(/kb/(?!manage/|gaps/)[a-z0-9-]+/)(?:\?[^"]*)?"')
KB_SEARCHES = ("password", "vpn", "printer", "account locked", "outlook")


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    # What the clients were told happened, to check against the database afterwards.
    submitted: dict[str, str] = field(default_factory=dict)  # token -> subject
    customer_replies: Counter = field(default_factory=Counter)  # token -> confirmed replies
    agent_replies: Counter = field(default_factory=Counter)  # reference -> confirmed replies

    def record(self, op: str, reply) -> None:
        with self.lock:
            self.samples[op].append(reply.seconds)
            self.statuses[reply.status] += 1
            if reply.status >= 500:
                self.server_errors.append(f"{op}: {reply.status} {reply.body[:200]!r}")


def _call(stats: Stats, op: str, fn, *args):
    try:
        reply = fn(*args)
    except OSError as exc:
        with stats.lock:
            stats.transport_errors.append(f"{op}: {exc!r}")
        return None
    stats.record(op, reply)
    return reply


def customer_loop(port: int, stop: threading.Event, stats: Stats, n: int, seed: int) -> None:
    rnd = random.Random(seed)  # noqa: S311 - traffic mix, not security
    browser = Browser(port)
    mine: list[str] = []
    i = 0
    while not stop.is_set():
        i += 1
        choice = rnd.random()
        if choice < 0.35 or not mine:
            page = _call(stats, "GET /tickets/new/", browser.get, "/tickets/new/")
            if page is None or page.status != 200:
                continue
            categories = CATEGORY_OPTION.findall(page.body)
            subject = f"Soak customer {n} ticket {i}"
            reply = _call(
                stats,
                "POST /tickets/new/",
                browser.post,
                "/tickets/new/",
                {
                    "name": f"Customer {n}",
                    "email": f"soak{n}@example.com",
                    "category": rnd.choice(categories[:8] or [""]),
                    "subject": subject,
                    "description": "Soak test: the printer on floor 2 shows error 0x80070005.",
                    "urgency": rnd.choice(["low", "medium", "high"]),
                    "impact": rnd.choice(["low", "medium", "high"]),
                    "submission_key": form_value(page.body, "submission_key"),
                },
            )
            if (
                reply is not None
                and reply.status == 302
                and "/tickets/submitted/" in reply.location
            ):
                token = reply.location.rstrip("/").rsplit("/", 1)[-1]
                with stats.lock:
                    stats.submitted[token] = subject
                mine.append(token)
        elif choice < 0.7:
            token = rnd.choice(mine)
            _call(stats, "GET /tickets/track/", browser.get, f"/tickets/track/{token}/")
        elif choice < 0.8:
            token = rnd.choice(mine)
            url = f"/tickets/track/{token}/"
            reply = _call(stats, "POST /tickets/track/ reply", browser.post, url,
                          {"body": f"Any news? ({i})"})  # fmt: skip
            if reply is not None and reply.status == 302:
                page = _call(stats, "GET /tickets/track/", browser.get, url)
                if page is not None and "Your reply was sent." in page.body:
                    with stats.lock:
                        stats.customer_replies[token] += 1
        else:
            query = rnd.choice(KB_SEARCHES).replace(" ", "+")
            index = _call(stats, "GET /kb/?q=", browser.get, f"/kb/?q={query}")
            links = ARTICLE_LINK.findall(index.body) if index is not None else []
            if links:
                _call(stats, "GET /kb/<slug>/", browser.get, rnd.choice(links))
        time.sleep(rnd.uniform(0.05, 0.25))


def agent_loop(port: int, stop: threading.Event, stats: Stats, username: str, seed: int) -> None:
    rnd = random.Random(seed)  # noqa: S311 - traffic mix, not security
    browser = Browser(port)
    login = _call(stats, "POST /accounts/login/", browser.login, username, "demo")
    if login is None or login.status != 302:
        with stats.lock:
            stats.transport_errors.append(f"{username} could not log in")
        return
    while not stop.is_set():
        queue = _call(stats, "GET /agent/", browser.get, "/agent/")
        refs = REFERENCE.findall(queue.body) if queue is not None else []
        if not refs:
            time.sleep(0.5)
            continue
        ref = rnd.choice(refs[:20])
        base = f"/agent/tickets/{ref}"
        _call(stats, "GET /agent/tickets/<ref>/", browser.get, f"{base}/")
        _call(stats, "POST claim", browser.post, f"{base}/claim/", {})
        reply = _call(stats, "POST reply", browser.post, f"{base}/reply/",
                      {"body": "Thanks, we are looking into it."})  # fmt: skip
        if reply is not None and reply.status == 302:
            page = _call(stats, "GET /agent/tickets/<ref>/", browser.get, f"{base}/")
            if page is not None and "Reply sent." in page.body:
                with stats.lock:
                    stats.agent_replies[ref] += 1
        if rnd.random() < 0.25:
            _call(stats, "POST resolve", browser.post, f"{base}/resolve/",
                  {"resolution": "Cleared the print queue and restarted the spooler."})  # fmt: skip
        time.sleep(rnd.uniform(0.1, 0.4))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def verify(database_url: str, stats: Stats) -> dict:
    import psycopg2

    problems: list[str] = []
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT t.tracking_token, t.reference, t.subject, "
            "count(*) FILTER (WHERE e.kind = 'created'), "
            "count(*) FILTER (WHERE e.kind = 'customer_reply') "
            "FROM tickets_ticket t LEFT JOIN tickets_ticketevent e ON e.ticket_id = t.id "
            "GROUP BY t.id"
        )
        rows = {r[0]: r[1:] for r in cur.fetchall()}
        for token, subject in stats.submitted.items():
            if token not in rows:
                problems.append(f"submitted ticket missing: {subject}")
                continue
            _ref, stored_subject, created, customer_replies = rows[token]
            if stored_subject != subject or created != 1:
                problems.append(f"{subject}: subject {stored_subject!r}, {created} CREATED")
            if customer_replies != stats.customer_replies.get(token, 0):
                problems.append(
                    f"{subject}: {customer_replies} customer replies stored, "
                    f"{stats.customer_replies.get(token, 0)} confirmed"
                )
        cur.execute(
            "SELECT t.reference, count(*) FROM tickets_ticket t JOIN tickets_ticketevent e "
            "ON e.ticket_id = t.id AND e.kind = 'reply' GROUP BY t.reference"
        )
        replies = dict(cur.fetchall())
        for ref, confirmed in stats.agent_replies.items():
            if replies.get(ref, 0) != confirmed:
                problems.append(
                    f"{ref}: {replies.get(ref, 0)} replies stored, {confirmed} confirmed"
                )
        # A ticket is never promoted twice for one deadline.
        cur.execute(
            "SELECT ticket_id, data FROM tickets_ticketevent WHERE kind = 'promoted' ORDER BY id"
        )
        promotions = cur.fetchall()
        seen: Counter = Counter()
        for ticket_id, data in promotions:
            data = data or {}
            key = (
                ticket_id,
                str(data.get("from_tier", data.get("tier_from", ""))),
                str(data.get("deadline", data.get("escalate_at", ""))),
            )
            if key[1] == "" and key[2] == "":  # unknown shape: identical payloads = twice
                key = (ticket_id, json.dumps(data, sort_keys=True), "")
            seen[key] += 1
        duplicates = {k: n for k, n in seen.items() if n > 1}
        for key, n in duplicates.items():
            problems.append(f"ticket {key[0]} promoted {n} times for one deadline {key[1:]}")
        # And the tier moved exactly once per promotion or manual escalation.
        cur.execute(
            "SELECT t.reference, t.tier - c.entry_tier, count(e.id) FROM tickets_ticket t "
            "JOIN tickets_category c ON c.id = t.category_id LEFT JOIN tickets_ticketevent e "
            "ON e.ticket_id = t.id AND e.kind IN ('promoted', 'escalated', 'vendor_handoff') "
            "GROUP BY t.reference, t.tier, c.entry_tier"
        )
        for ref, moved, events in cur.fetchall():
            if events < moved:
                problems.append(f"{ref}: tier moved {moved} levels with {events} escalation events")
        cur.execute("SELECT count(*) FROM tickets_ticket")
        total_tickets = cur.fetchone()[0]
    return {
        "tickets_in_database": total_tickets,
        "tickets_submitted_by_clients": len(stats.submitted),
        "promotions": len(promotions),
        "promoted_tickets": len({p[0] for p in promotions}),
        "duplicate_promotions": len(duplicates),
        "problems": problems,
    }


def sweep_available() -> bool:
    """Whether this tree has the escalation sweep task the beat schedules (read from the
    source: importing it would need Django set up in this process)."""
    tasks = ROOT / "tiers" / "tasks.py"
    return tasks.exists() and "def escalation_sweep" in tasks.read_text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="load duration (default 10)")
    parser.add_argument("--customers", type=int, default=6, help="customer threads")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--tier1-seconds", type=int, default=45, help="Tier 1 budget")
    parser.add_argument("--tier2-seconds", type=int, default=90, help="Tier 2 budget")
    parser.add_argument("--report", type=Path, default=ROOT / "var" / "soak-report.json")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="tierdesk-soak-"))
    cluster, redis = PostgresCluster(), RedisServer()
    with everything_stopped(cluster, redis):
        print(f"soak: logs in {work}", flush=True)
        cluster.__enter__()
        redis.start()
        url = cluster.createdb("tierdesk_soak")
        env = django_env(
            database_url=url,
            redis_url=redis.url(0),
            broker_url=redis.url(1),
            STATIC_ROOT=str(work / "static"),
            TIERDESK_VAR_DIR=str(work / "var"),
            MEDIA_ROOT=str(work / "media"),
            EMAIL_URL="dummymail://",
            ESCALATION_SWEEP_SECONDS="1",
        )
        print("soak: migrate, seed, collectstatic", flush=True)
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "seed_demo", "--no-history")  # the demo queue would skew the timings
        manage(env, "shell", "-c", SETUP.format(t1=args.tier1_seconds, t2=args.tier2_seconds))
        collectstatic(env)
        web = Gunicorn(env, workers=args.web_workers, threads=2, log=work / "gunicorn.log")
        worker = CeleryWorker(env, pool="prefork", log=work / "worker.log",
                              extra=("--concurrency", "2"))  # fmt: skip
        beat = CeleryBeat(env, log=work / "beat.log")
        with everything_stopped(web, worker, beat):
            web.start()
            worker.start()
            beat.start()
            stats = Stats()
            stop = threading.Event()
            threads = [
                threading.Thread(
                    target=customer_loop, args=(web.port, stop, stats, i, i), daemon=True
                )
                for i in range(args.customers)
            ] + [
                threading.Thread(
                    target=agent_loop, args=(web.port, stop, stats, name, 100 + i), daemon=True
                )
                for i, name in enumerate(["agent1", "agent2", "agent3"])
            ]
            print(
                f"soak: {len(threads)} clients for {args.minutes} min on port {web.port}",
                flush=True,
            )
            t0 = time.monotonic()
            for t in threads:
                t.start()
            deadline = t0 + args.minutes * 60
            while time.monotonic() < deadline:
                time.sleep(min(15, max(0.1, deadline - time.monotonic())))
                with stats.lock:
                    done = sum(stats.statuses.values())
                print(f"soak: {time.monotonic() - t0:6.0f}s {done} requests", flush=True)
            stop.set()
            for t in threads:
                t.join(timeout=60)
            elapsed = time.monotonic() - t0
            time.sleep(3)  # let the last sweeps and notifications finish

        everything = [s for values in stats.samples.values() for s in values]
        report = {
            "minutes": round(elapsed / 60, 2),
            "requests": len(everything),
            "throughput_rps": round(len(everything) / elapsed, 1),
            "latency_ms": {
                "p50": round(percentile(everything, 50) * 1000, 1),
                "p90": round(percentile(everything, 90) * 1000, 1),
                "p99": round(percentile(everything, 99) * 1000, 1),
                "max": round(max(everything, default=0) * 1000, 1),
            },
            "by_operation": {
                op: {
                    "count": len(values),
                    "p50_ms": round(percentile(values, 50) * 1000, 1),
                    "p99_ms": round(percentile(values, 99) * 1000, 1),
                    "mean_ms": round(statistics.fmean(values) * 1000, 1),
                }
                for op, values in sorted(stats.samples.items())
            },
            "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
            "server_errors_5xx": len(stats.server_errors),
            "server_error_samples": stats.server_errors[:10],
            "transport_errors": stats.transport_errors[:10],
            "confirmed_customer_replies": sum(stats.customer_replies.values()),
            "confirmed_agent_replies": sum(stats.agent_replies.values()),
            "escalation_sweep_available": sweep_available(),
            "verification": verify(url, stats),
        }
    for bulky in ("static", "var", "media"):  # keep only the logs
        shutil.rmtree(work / bulky, ignore_errors=True)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    ok = (
        report["server_errors_5xx"] == 0
        and not report["transport_errors"]
        and not report["verification"]["problems"]
        and report["requests"] > 0
    )
    print(f"soak: {'PASSED' if ok else 'FAILED'} (report in {args.report})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

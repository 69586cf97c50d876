"""Live updates and scheduler failover (issue #23), part of `make bench`.

1. **Idle streams**: one stream server (uvicorn, as Procfile ``stream``) holds N agent
   sessions' event streams open (queue pages, 1,000 by default); its CPU time over a
   quiet window (two keep-alive cycles) is the cost of holding them, in % of one core.
2. **Change → every page**: K committed ticket writes (``ticket_event_create`` in a
   transaction, as any service makes them), one every ``--gap`` s; for each, the time
   from the start of the write until each of the N streams received the message. The
   p99 over all (page, change) pairs, and the p99 of "the last page to hear of it".
3. **Scheduler failover**: two ``celery beat`` with the leader lock; the leader is
   SIGKILLed and the time until the standby holds the lock is measured, R times.

Writes a section of BENCHMARKS.md between markers (the rest of the file is
``bench/run.py``'s) and the raw figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import connect, db_name, with_db  # noqa: E402

START, END = "<!-- bench/live.py:start -->", "<!-- bench/live.py:end -->"
SECRET = secrets.token_urlsafe(50)


def child_env(args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=SECRET,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="0",
        DATABASE_URL=args.db_url,
        REDIS_URL=args.redis_url,
        CELERY_BROKER_URL=args.broker_url,
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        TIERDESK_VAR_DIR=str(ROOT / "var" / "bench-live"),
    )
    return env


def prepare_database(args: argparse.Namespace) -> None:
    admin = connect(with_db(args.db_url, "postgres"))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name(args.db_url)])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{db_name(args.db_url)}"')
    admin.close()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT, env=child_env(args), check=True, timeout=600,
    )  # fmt: skip


def django_setup(args: argparse.Namespace) -> None:
    os.environ.update(child_env(args))
    import django

    django.setup()


def agent_session() -> str:
    """A signed-in Tier 1 agent's session key (as the login view would leave it)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore as DbStore

    from tiers.models import AgentProfile

    user, _ = get_user_model().objects.get_or_create(
        username="bench-live", defaults={"email": "bench-live@example.com"}
    )
    AgentProfile.objects.get_or_create(user=user, defaults={"tier": 1})
    store_class = getattr(import_module(settings.SESSION_ENGINE), "SessionStore", DbStore)
    session = store_class()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def bench_tickets(k: int) -> list:
    from tests.factories import TicketFactory
    from tickets.models import Category

    category, _ = Category.objects.get_or_create(
        name="Bench live", defaults={"slug": "bench-live", "entry_tier": 1}
    )
    return [TicketFactory(category=category) for _ in range(k)]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_http(port: int, timeout: float = 60) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz?scope=node", headers={"Host": "127.0.0.1"})
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"stream server on {port} did not answer")


class Page:
    """One agent's open queue page: its stream and when each change reached it."""

    def __init__(self) -> None:
        self.heard: dict[int, float] = {}
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self, port: int, cookie: str) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.writer.write(
            (
                "GET /live/stream/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                f"Cookie: sessionid={cookie}\r\n\r\n"
            ).encode()
        )
        await self.writer.drain()
        status = await self.reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"stream refused: {status!r}")
        while (await self.reader.readline()).strip() != b"event: hello":
            pass

    async def listen(self) -> None:
        assert self.reader is not None
        while True:
            line = await self.reader.readline()
            if not line:
                return
            if line.startswith(b"data: {"):
                now = time.monotonic()
                for ticket_id in json.loads(line[6:]).get("ids", []):
                    self.heard.setdefault(ticket_id, now)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def streams_bench(args: argparse.Namespace, cookie: str, tickets: list) -> dict:
    from django.db import transaction

    from tickets.models import TicketEvent
    from tickets.services.core import ticket_event_create

    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "helpdesk.asgi:application", "--host", "127.0.0.1",
         "--port", str(args.port), "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=child_env(args), start_new_session=True,
    )  # fmt: skip
    pages = [Page() for _ in range(args.sessions)]
    try:
        wait_http(args.port)
        started = time.monotonic()
        for i in range(0, len(pages), 100):  # in batches: a login storm is not the point
            await asyncio.gather(*(p.open(args.port, cookie) for p in pages[i : i + 100]))
        connect_s = time.monotonic() - started
        listeners = [asyncio.create_task(p.listen()) for p in pages]
        await asyncio.sleep(3)  # let the connection burst settle

        # 1. Idle: nothing happens but keep-alives.
        cpu0, wall0 = cpu_seconds(server.pid), time.monotonic()
        await asyncio.sleep(args.idle_seconds)
        idle_cpu = (cpu_seconds(server.pid) - cpu0) / (time.monotonic() - wall0) * 100
        idle_rss = rss_mb(server.pid)
        db = connect(args.db_url)
        with db.cursor() as cursor:  # connections the stream server holds (ours excluded)
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND application_name NOT LIKE 'tierdesk-scheduler%%'"
            )
            idle_db_connections = cursor.fetchone()[0]
        db.close()

        # 2. Changes: a committed write each, then wait for every page to hear of it.
        loop = asyncio.get_running_loop()
        written: dict[int, float] = {}

        def write(ticket) -> None:
            written[ticket.pk] = time.monotonic()
            with transaction.atomic():
                ticket_event_create(ticket=ticket, kind=TicketEvent.Kind.NOTE, body="bench")

        cpu1, wall1 = cpu_seconds(server.pid), time.monotonic()
        for ticket in tickets:
            await loop.run_in_executor(None, write, ticket)
            await asyncio.sleep(args.gap)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(
            t.pk in p.heard for p in pages for t in tickets
        ):
            await asyncio.sleep(0.1)
        busy_cpu = (cpu_seconds(server.pid) - cpu1) / (time.monotonic() - wall1) * 100
        lat = [p.heard[t.pk] - written[t.pk] for p in pages for t in tickets if t.pk in p.heard]
        last = [
            max(p.heard.get(t.pk, float("inf")) for p in pages) - written[t.pk] for t in tickets
        ]
        missed = len(pages) * len(tickets) - len(lat)
        for task in listeners:
            task.cancel()
        return {
            "sessions": len(pages),
            "connect_seconds": round(connect_s, 2),
            "idle_seconds": args.idle_seconds,
            "idle_cpu_percent": round(idle_cpu, 2),
            "idle_rss_mb": round(idle_rss, 1),
            "idle_db_connections": idle_db_connections,
            "changes": len(tickets),
            "deliveries": len(lat),
            "missed": missed,
            "p50_ms": round(statistics.median(lat) * 1000, 1),
            "p99_ms": round(percentile(lat, 99) * 1000, 1),
            "max_ms": round(max(lat) * 1000, 1),
            "last_page_p99_ms": round(percentile(last, 99) * 1000, 1),
            "cpu_percent_during_changes": round(busy_cpu, 1),
        }
    finally:
        for p in pages:
            p.close()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def leader_pid(conn) -> int | None:
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database() "
            "AND a.application_name LIKE 'tierdesk-scheduler:%%'"
        )
        row = cursor.fetchone()
    return int(row[0].rsplit(":", 1)[1]) if row else None


def failover_bench(args: argparse.Namespace) -> dict:
    conn = connect(args.db_url)
    conn.autocommit = True

    def beat() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "helpdesk", "beat", "--loglevel=WARNING"],
            cwd=ROOT, env=child_env(args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip

    beats = {}
    times = []
    try:
        for _ in range(2):
            proc = beat()
            beats[proc.pid] = proc
        for _ in range(args.failovers):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                pid = leader_pid(conn)
                standby_ready = len([p for p in beats.values() if p.poll() is None]) == 2
                if pid in beats and standby_ready:
                    break
                time.sleep(0.1)
            time.sleep(2)  # the standby is past its start-up and polling for the lock
            pid = leader_pid(conn)
            killed_at = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            while (now_leader := leader_pid(conn)) in (None, pid):
                time.sleep(0.01)
                if time.monotonic() - killed_at > 30:
                    raise TimeoutError("no standby took over")
            times.append(time.monotonic() - killed_at)
            beats.pop(pid).wait(timeout=10)
            proc = beat()  # the next standby
            beats[proc.pid] = proc
            assert now_leader in beats
    finally:
        for proc in beats.values():
            proc.kill()
            proc.wait(timeout=10)
        conn.close()
    return {
        "failovers": len(times),
        "median_s": round(statistics.median(times), 2),
        "max_s": round(max(times), 2),
        "all_s": [round(t, 2) for t in times],
    }


def markdown(result: dict) -> str:
    s, f = result["streams"], result["failover"]
    machine = result["machine"]
    met = {
        "idle": s["idle_cpu_percent"] <= 10,
        "change": s["p99_ms"] <= 1000 and s["last_page_p99_ms"] <= 1000 and not s["missed"],
        "failover": f["max_s"] <= 5,
    }
    word = {True: "met", False: "NOT met"}
    return "\n".join(
        [
            START,
            "## Live updates and scheduler failover (bench/live.py)",
            "",
            f"Run of {result['date']} on {machine}, load average {result['load'][0]} at "
            f"start, {result['load'][1]} at end. One stream server (uvicorn, one process, "
            "as Procfile `stream`), Redis pub/sub, PostgreSQL; the bench client holds every "
            "stream from one asyncio process on the same 2 cores.",
            "",
            "| Target | Goal | Figure | Result |",
            "|---|---|---|---|",
            f"| {s['sessions']:,} idle agent streams (queue pages) | ≤ 10% of one core | "
            f"{s['idle_cpu_percent']}% of one core over {s['idle_seconds']} s "
            f"(RSS {s['idle_rss_mb']} MB, {s['idle_db_connections']} database connection(s) "
            f"incl. the bench's own; connected in {s['connect_seconds']} s) | "
            f"{word[met['idle']]} |",
            f"| Change → every connected page ({s['changes']} committed writes × "
            f"{s['sessions']:,} pages) | p99 ≤ 1 s | p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, "
            f"max {s['max_ms']} ms; last page to hear of a change: p99 "
            f"{s['last_page_p99_ms']} ms; missed {s['missed']} | {word[met['change']]} |",
            f"| Scheduler failover (leader SIGKILLed, standby holds the lock) | ≤ 5 s | "
            f"median {f['median_s']} s, max {f['max_s']} s over {f['failovers']} kills | "
            f"{word[met['failover']]} |",
            "",
            "*Change → page* is the push: from the start of the write's transaction until "
            "the page's stream delivered the message. The page then fetches what changed "
            "through its usual view (the queue's rows: one cached fragment per tier and "
            "version, see the table above for its cost). Failover is bounded by the "
            "standby's retry interval (`SCHEDULER_STANDBY_SECONDS`, 1 s): the lock is "
            "freed the moment the leader's connection closes, and the new leader sends "
            "the overdue sweep in the same tick.",
            END,
        ]
    )


def write_report(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else "# Tierdesk benchmarks\n"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        text = before + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--broker-url", required=True)
    parser.add_argument("--port", type=int, default=8300)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.5)
    parser.add_argument("--idle-seconds", type=int, default=40)
    parser.add_argument("--failovers", type=int, default=5)
    parser.add_argument("--md", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    load_start = round(os.getloadavg()[0], 2)
    prepare_database(args)
    django_setup(args)
    cookie = agent_session()
    tickets = bench_tickets(args.changes)
    streams = asyncio.run(streams_bench(args, cookie, tickets))
    print(json.dumps(streams), file=sys.stderr)
    failover = failover_bench(args)
    print(json.dumps(failover), file=sys.stderr)
    import platform

    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "streams": streams,
        "failover": failover,
        "load": [load_start, round(os.getloadavg()[0], 2)],
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.md:
        write_report(args.md, markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()

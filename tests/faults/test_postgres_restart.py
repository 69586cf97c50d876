"""PostgreSQL restarted under traffic: during the outage every request fails cleanly
(503 with Retry-After, our page, no stack trace), and requests succeed again once the
database is back (CONN_HEALTH_CHECKS replaces the dead persistent connections)."""

from __future__ import annotations

import threading
import time
from collections import Counter

import psycopg2
import pytest

from .harness import (
    Browser,
    Gunicorn,
    PostgresCluster,
    RedisServer,
    django_env,
    everything_stopped,
    form_value,
    have_postgres,
    have_redis,
    manage,
)

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(not (have_postgres() and have_redis()), reason="needs PostgreSQL + Redis"),
]

SEED = """
from tickets.models import Category
Category.objects.get_or_create(slug="laptop", defaults={"name": "Laptop", "entry_tier": 1})
"""


def _traffic(port: int, stop: threading.Event, log: list, worker: int) -> None:
    browser = Browser(port, timeout=20)
    n = 0
    while not stop.is_set():
        n += 1
        kind = ("home", "form", "health", "submit")[n % 4]
        began = time.monotonic()  # classify by when a request was sent, not when it ended
        try:
            if kind == "home":
                reply = browser.get("/")
            elif kind == "health":
                reply = browser.get("/healthz")
            elif kind == "form":
                reply = browser.get("/tickets/new/")
            else:
                page = browser.get("/tickets/new/")
                if page.status != 200:
                    reply = page
                else:
                    reply = browser.post(
                        "/tickets/new/",
                        {
                            "name": f"Load {worker}",
                            "email": f"load{worker}@example.com",
                            "category": form_value(page.body, "category")
                            or _category_id(page.body),
                            "subject": f"Restart test {worker}-{n}",
                            "description": "Submitted while the database restarts.",
                            "urgency": "medium",
                            "impact": "low",
                            "submission_key": form_value(page.body, "submission_key"),
                        },
                    )
        except OSError as exc:  # the web server itself must never drop the connection
            log.append((began, kind, 0, repr(exc), {}, time.monotonic()))
            continue
        log.append((began, kind, reply.status, reply.body, reply.headers, time.monotonic()))
        time.sleep(0.02)


def _category_id(page: str) -> str:
    import re

    match = re.search(r'<option value="(\d+)"', page)
    return match.group(1) if match else ""


def test_requests_fail_cleanly_during_a_postgres_restart_and_recover(static_root, tmp_path):
    cluster = PostgresCluster()
    redis = RedisServer()
    with everything_stopped(cluster, redis):
        cluster.__enter__()
        redis.start()
        url = cluster.createdb("tierdesk")
        env = django_env(
            database_url=url,
            redis_url=redis.url(0),
            broker_url=redis.url(1),
            STATIC_ROOT=str(static_root),
            TIERDESK_VAR_DIR=str(tmp_path / "var"),
            DB_CONNECT_TIMEOUT="2",
        )
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "shell", "-c", SEED)
        web = Gunicorn(env, workers=2, log=tmp_path / "gunicorn.log")
        with web:
            log: list = []
            stop = threading.Event()
            threads = [
                threading.Thread(target=_traffic, args=(web.port, stop, log, i), daemon=True)
                for i in range(3)
            ]
            for t in threads:
                t.start()
            time.sleep(3)
            down_at = time.monotonic()
            cluster.stop("fast")
            stopped_at = time.monotonic()
            time.sleep(4)
            starting_at = time.monotonic()
            cluster.start()
            up_at = time.monotonic()
            time.sleep(6)
            stop.set()
            for t in threads:
                t.join(timeout=30)

        # Requests caught by the stop or the start itself may go either way.
        before = [e for e in log if e[5] < down_at]
        during = [e for e in log if stopped_at < e[0] and e[5] < starting_at]
        after = [e for e in log if e[0] > up_at + 2]
        statuses = Counter(e[2] for e in log)
        print(f"\nrequests: {len(log)} total, by status {dict(statuses)}; "
              f"before {len(before)}, outage {len(during)}, after {len(after)}")  # fmt: skip

        assert not [e for e in log if e[2] == 0], "the web server dropped connections"
        assert not [e for e in log if e[2] >= 500 and e[2] != 503], "a 5xx other than 503"
        assert before and all(e[2] in (200, 302) for e in before), [
            (e[1], e[2], e[3][-800:]) for e in before if e[2] not in (200, 302)
        ][:3]
        assert during, "no request was made during the outage"
        for _at, kind, status, body, headers, _ended in during:
            assert "Traceback" not in body and "psycopg2" not in body
            if kind in ("health", "submit"):  # these need the database itself
                assert status == 503, (kind, status, body[:300])
            else:  # a page built from cached data may still be served
                assert status in (200, 503), (kind, status, body[:300])
            if status == 503 and kind != "health":
                assert "cannot reach its database" in body
                assert headers.get("retry-after") == "30"
        assert sum(1 for e in during if e[2] == 503) >= len(during) // 2
        assert after and all(e[2] in (200, 302) for e in after), Counter(e[2] for e in after)

        # Nothing half-written: every accepted ticket is whole.
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT count(*), count(*) FILTER (WHERE reference IS NULL), "
                "count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM tickets_ticketevent e "
                "WHERE e.ticket_id = t.id AND e.kind = 'created')) FROM tickets_ticket t"
            )
            tickets, without_reference, without_event = cur.fetchone()
        accepted = sum(1 for e in log if e[1] == "submit" and e[2] == 302)
        assert tickets == accepted
        assert without_reference == without_event == 0

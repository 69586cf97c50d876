"""Several nodes on one machine: two web nodes (gunicorn), two Celery workers and two
schedulers (celery beat with the leader lock) against one PostgreSQL and one Redis.

While tickets come due, one second apart, the active scheduler, then a worker, then a
web node are SIGKILLed. Every ticket is promoted exactly once, within 5 s of its
deadline plus the measured scheduler failover, and both web nodes list the same queue.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.utils import timezone

from helpdesk.scheduler import APPLICATION_NAME
from tests.factories import make_agent
from tests.tiers.helpers import make_tickets_due
from tickets.models import Ticket, TicketEvent
from tiers.health import SWEEP
from tiers.models import PeriodicRun

from .harness import (
    WEB_PORTS,
    Browser,
    CeleryBeat,
    CeleryWorker,
    Gunicorn,
    RedisServer,
    django_env,
    everything_stopped,
    free_port,
    have_redis,
    wait_for,
)

pytestmark = [
    pytest.mark.faults,
    pytest.mark.worker,
    pytest.mark.skipif(not have_redis(), reason="needs redis-server"),
]

N_TICKETS = 24
FIRST_DUE_S = 4  # after everything is up
SLACK_S = 5.0


def _leader_pid() -> int | None:
    """The pid of the scheduler holding the leader lock in this database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database() "
            "AND a.application_name LIKE %s",
            [f"{APPLICATION_NAME}:%"],
        )
        row = cursor.fetchone()
    return int(row[0].rsplit(":", 1)[1]) if row else None


def _queue_refs(browser: Browser) -> set[str]:
    reply = browser.get("/agent/?partial=rows")
    assert reply.status == 200, reply.body[:300]
    return set(re.findall(r'<tr data-reference="(TD-\d+)"', reply.body))


def _same_queue(a: Browser, b: Browser) -> set[str]:
    """Both nodes list the same tickets (read twice around, since promotions go on)."""
    for _ in range(10):
        first, other, again = _queue_refs(a), _queue_refs(b), _queue_refs(a)
        if other in (first, again):
            return other
        time.sleep(0.2)
    raise AssertionError(f"web nodes disagree: {sorted(first ^ other)}")


@pytest.mark.django_db(transaction=True)
def test_kill_the_leader_a_worker_and_a_web_node_while_tickets_come_due(
    policies, category, test_database_url, static_root, tmp_path
):
    agent = make_agent(2, username="tier2")
    # The nodes run with production hashers (the test settings use a fast one).
    agent.password = PBKDF2PasswordHasher().encode("pw", PBKDF2PasswordHasher().salt())
    agent.save(update_fields=["password"])
    redis = RedisServer().start()
    env = django_env(
        database_url=test_database_url,
        redis_url=redis.url(0),
        broker_url=redis.url(1),
        STATIC_ROOT=str(static_root),
        TIERDESK_VAR_DIR=str(tmp_path / "var"),
        ESCALATION_SWEEP_SECONDS="1",
        CELERY_VISIBILITY_TIMEOUT="10",
        EMAIL_URL="dummymail://",
    )
    ports = [free_port(WEB_PORTS)]
    ports.append(free_port(range(ports[0] + 1, WEB_PORTS.stop)))
    webs = [
        Gunicorn(env, port=port, workers=1, threads=2, log=tmp_path / f"web{port}.log")
        for port in ports
    ]
    workers = [CeleryWorker(env, log=tmp_path / f"worker{i}.log") for i in (1, 2)]
    beats = [CeleryBeat(env, log=tmp_path / f"beat{i}.log") for i in (1, 2)]

    def logs() -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(tmp_path.glob("*.log"))
        )

    with everything_stopped(redis, *webs, *workers, *beats):
        for proc in (*workers, *beats, *webs):
            proc.start()
        leader = wait_for(_leader_pid, timeout=60, what="a leading scheduler")
        by_pid = {b.proc.pid: b for b in beats}
        assert leader in by_pid, (leader, list(by_pid), logs())
        # Wait for a first completed sweep: the workers are consuming.
        wait_for(
            lambda: PeriodicRun.objects.filter(name=SWEEP).exists(), timeout=60, what="a sweep"
        )

        start = timezone.now() + timedelta(seconds=FIRST_DUE_S)
        deadlines = [start + timedelta(seconds=i) for i in range(N_TICKETS)]
        ids = make_tickets_due(category, deadlines)
        due = dict(zip(ids, deadlines, strict=True))
        t0 = time.monotonic() + FIRST_DUE_S

        # One session, two nodes: sessions and caches are shared.
        agents = [Browser(web.port) for web in webs]
        assert agents[0].login("tier2", "pw").status == 302
        agents[1].cookies = dict(agents[0].cookies)

        # 1. The leading scheduler dies; the standby takes the lock.
        time.sleep(max(0.0, t0 + 3 - time.monotonic()))
        killed = by_pid[leader]
        killed_at = time.monotonic()
        killed.proc.kill()
        new_leader = wait_for(
            lambda: (pid := _leader_pid()) not in (None, leader) and pid,
            timeout=15,
            interval=0.05,
            what="the standby scheduler to lead",
        )
        failover = time.monotonic() - killed_at
        assert new_leader in by_pid and by_pid[new_leader] is not killed

        # 2. A worker dies (SIGKILL: the task in hand is neither finished nor acked).
        time.sleep(max(0.0, t0 + 9 - time.monotonic()))
        workers[0].kill()
        assert _same_queue(*agents)

        # 3. A web node dies; the other one goes on serving the same desk.
        time.sleep(max(0.0, t0 + 15 - time.monotonic()))
        webs[0].proc.kill()
        webs[0].proc.wait(timeout=10)

        def all_promoted() -> bool:
            return Ticket.objects.filter(pk__in=ids, tier=2).count() == N_TICKETS

        wait_for(all_promoted, timeout=N_TICKETS + 30, interval=0.25, what="every promotion")
        time.sleep(2)  # room for a wrong second promotion
        survivor = agents[1]
        assert _queue_refs(survivor) >= set(
            Ticket.objects.filter(pk__in=ids).values_list("reference", flat=True)
        )
        health = survivor.get("/healthz")
        assert health.status == 200, health.body

    events = TicketEvent.objects.filter(ticket_id__in=ids, kind=TicketEvent.Kind.PROMOTED)
    per_ticket: dict[int, list] = {}
    for event in events:
        per_ticket.setdefault(event.ticket_id, []).append(event)
    assert sorted(per_ticket) == sorted(ids), logs()
    assert all(len(v) == 1 for v in per_ticket.values()), "a ticket was promoted twice"
    lags = {tid: (v[0].created_at - due[tid]).total_seconds() for tid, v in per_ticket.items()}
    assert failover <= 5.0, f"scheduler failover took {failover:.1f} s"
    worst = max(lags.values())
    print(f"scale-out: failover {failover:.2f} s, promotion lag max {worst:.2f} s")
    assert min(lags.values()) >= 0
    assert worst <= SLACK_S + failover, (worst, failover, sorted(lags.values()), logs())

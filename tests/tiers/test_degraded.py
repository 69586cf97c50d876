"""Degraded mode: with the broker (Redis) down, tickets are still accepted and their
deadlines stored; the first sweep after recovery promotes what came due, once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tickets.models import Ticket, TicketEvent

from .celery_procs import ROOT, wait_for, worker_database_url

PORT = 6383  # a throwaway redis-server of our own, stopped on purpose

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

SUBMIT = """
import django
django.setup()
from tickets.models import Category
from tickets.services import ticket_create
t = ticket_create(category=Category.objects.get(slug="password-reset"), subject="Locked out",
                  description="Help", requester_name="Pat", requester_email="pat@example.com")
print(t.reference)
"""


def start_redis() -> subprocess.Popen:
    proc = subprocess.Popen(
        ["redis-server", "--port", str(PORT), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    import redis

    def up() -> bool:
        try:
            return redis.Redis(port=PORT, socket_connect_timeout=0.2).ping()
        except redis.ConnectionError:
            return False

    assert wait_for(up, timeout=10)
    return proc


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_tickets_accepted_while_redis_is_down_and_the_first_sweep_catches_up(policies, category):
    broker = f"redis://127.0.0.1:{PORT}/0"
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": broker,
        "REDIS_URL": broker,
        "EMAIL_URL": "dummymail://",
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
    }
    redis_server = start_redis()
    try:
        first = run(["-c", SUBMIT], env)
        assert first.returncode == 0, first.stderr
        redis_server.terminate()
        redis_server.wait(timeout=10)

        started = time.monotonic()
        second = run(["-c", SUBMIT], env)
        elapsed = time.monotonic() - started
        assert second.returncode == 0, second.stderr
        assert "could not queue notification" in second.stderr
        assert elapsed < 20  # publishing fails fast; the request does not hang
        refs = [first.stdout.strip(), second.stdout.strip()]
        tickets = Ticket.objects.filter(reference__in=refs)
        assert tickets.count() == 2
        assert all(t.escalate_at is not None for t in tickets)  # the deadline is stored

        # The outage outlasts both deadlines. Nothing runs the sweep meanwhile.
        Ticket.objects.filter(reference__in=refs).update(
            escalate_at=timezone.now() - timedelta(minutes=5)
        )
        redis_server = start_redis()
        sweep = run(["manage.py", "escalate_overdue"], env)
        assert sweep.returncode == 0, sweep.stderr
        for ref in refs:
            assert f"Promoted {ref}: Tier 1 → Tier 2" in sweep.stdout
        again = run(["manage.py", "escalate_overdue"], env)
        assert "0 promoted" in again.stdout
        assert set(Ticket.objects.filter(reference__in=refs).values_list("tier", flat=True)) == {2}
        assert TicketEvent.objects.filter(kind=TicketEvent.Kind.PROMOTED).count() == 2
    finally:
        if redis_server.poll() is None:
            redis_server.terminate()
            redis_server.wait(timeout=10)


def test_the_sweep_itself_runs_with_redis_down(policies, category):
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{PORT}/0",  # nothing listens there
        "EMAIL_URL": "dummymail://",
    }
    from .helpers import make_overdue_tickets

    make_overdue_tickets(3, category=category, due=timezone.now() - timedelta(seconds=1))
    sweep = run(["manage.py", "escalate_overdue"], env)
    assert sweep.returncode == 0, sweep.stderr
    assert "3 promoted" in sweep.stdout
    # The notifications wait in the outbox (notify=True, notified_at NULL) for the flush.
    pending = TicketEvent.objects.filter(kind=TicketEvent.Kind.PROMOTED, notified_at=None)
    assert pending.count() == 3

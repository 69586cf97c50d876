"""The timers' health: the sweep's age in /healthz, the managers' alert when it is
stale, and the leader lock that lets several schedulers run with one active."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from helpdesk.scheduler import LeaderLock
from tests.factories import make_agent
from tickets.models import Notification
from tiers import health, tasks
from tiers.models import PeriodicRun

NOW = timezone.make_aware(timezone.datetime(2026, 3, 2, 10, 0, 0))


@pytest.fixture
def manager(db):
    user = make_agent(3, manager=True, username="boss")
    user.email = "boss@example.com"
    user.save()
    return user


@pytest.mark.django_db
def test_a_completed_sweep_is_recorded_and_healthz_reports_its_age(client, settings):
    with time_machine.travel(NOW, tick=False):
        tasks.escalation_sweep.delay()
    with time_machine.travel(NOW + timedelta(seconds=4), tick=False):
        response = client.get("/healthz")
    assert response.status_code == 200
    sweep = response.json()["sweep"]
    assert sweep["ok"] is True
    assert sweep["age_s"] == 4.0
    assert sweep["threshold_s"] == settings.SWEEP_STALE_SECONDS


@pytest.mark.django_db
def test_a_new_installation_before_its_first_sweep_is_not_unhealthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["sweep"]["ok"] is None


@pytest.mark.django_db
def test_a_stale_sweep_turns_healthz_unhealthy_and_alerts_the_managers_once(
    client, settings, manager, django_capture_on_commit_callbacks
):
    settings.SWEEP_STALE_SECONDS = 30
    settings.MANAGER_ALERT_EMAILS = ["oncall@example.com"]
    health.periodic_run_record(name=health.SWEEP, now=NOW)
    with (
        time_machine.travel(NOW + timedelta(seconds=31), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        first = client.get("/healthz")
        second = client.get("/healthz")  # another probe, another node: no second alert
    assert first.status_code == 503
    assert first.json()["status"] == "timers stopped"
    assert first.json()["sweep"]["age_s"] == 31.0
    assert second.status_code == 503
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Tierdesk: escalation timers stopped"
    assert sorted(mail.outbox[0].to) == ["boss@example.com", "oncall@example.com"]
    assert "31 seconds" in mail.outbox[0].body
    bells = Notification.objects.filter(user=manager)
    assert [b.text for b in bells] == [
        "Escalation timers stopped: the last sweep finished 31 s ago. "
        "No ticket is promoted until a scheduler and a worker run again."
    ]

    # The timers come back: healthy again, and the next outage alerts again.
    with time_machine.travel(NOW + timedelta(seconds=40), tick=False):
        tasks.escalation_sweep.delay()
        assert client.get("/healthz").status_code == 200
    with (
        time_machine.travel(NOW + timedelta(seconds=80), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert client.get("/healthz").status_code == 503
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_the_node_probe_ignores_the_timers(client):
    health.periodic_run_record(name=health.SWEEP, now=NOW)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        response = client.get("/healthz?scope=node")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": response.json()["database"]}
    assert PeriodicRun.objects.get().alerted_at is None  # a node probe alerts nobody


@pytest.mark.django_db(transaction=True)
def test_only_one_scheduler_holds_the_leader_lock_and_a_standby_takes_over():
    first, second = LeaderLock(), LeaderLock()
    try:
        assert first.acquire_or_keep() is True
        assert second.acquire_or_keep() is False
        assert first.acquire_or_keep() is True  # kept, not taken twice
        first.conn.close()  # the leader's connection dies (process killed, network cut)
        # The server ends the backend (and frees its lock) right after the socket closes.
        deadline = time.monotonic() + 5
        while not second.acquire_or_keep() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.held is True
        assert first.acquire_or_keep() is False  # the old leader comes back as a standby
    finally:
        first.release()
        second.release()

"""Real Celery worker + beat on Redis against the pytest database.

* a ticket climbs Tier 1 → 2 → 3 → vendor on its own, and the vendor's e-mail is sent;
* a worker SIGKILLed in the middle of a sweep of many tickets, then restarted: every
  overdue ticket is promoted exactly once.
"""

from __future__ import annotations

import os
import re
import signal
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from helpdesk.celery import app as celery_app
from tests.factories import CalendarFactory, PolicyFactory, VendorFactory, make_agent
from tickets.models import Ticket, TicketEvent
from tickets.services import ticket_create

from .celery_procs import CeleryProcs, broker_url, celery_env, purge_broker, wait_for
from .helpers import make_overdue_tickets

Kind = TicketEvent.Kind

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def procs(tmp_path, request):
    purge_broker(broker_url())
    env_extra = getattr(request, "param", {})
    p = CeleryProcs(tmp_path, celery_env(tmp_path, **env_extra))
    yield p
    p.close()
    purge_broker(broker_url())


def test_ticket_climbs_to_the_vendor_on_its_own(procs, tmp_path, category, client):
    CalendarFactory()
    for tier in (1, 2, 3):
        PolicyFactory(tier=tier, priority="normal", budget=timedelta(seconds=2))
    vendor = VendorFactory(name="Dana Vendor", company="Acme Firmware")
    vendor.categories.add(category)
    make_agent(3, manager=True, username="manager")
    procs.beat()
    procs.worker()
    assert procs.wait_ready(), procs.logs()
    ticket = ticket_create(
        category=category,
        subject="Dock firmware bricks laptops",
        description="Since the 2.1 update.",
        requester_name="Pat",
        requester_email="pat@example.com",
        priority="normal",
    )

    def at_tier_4() -> bool:
        return Ticket.objects.filter(pk=ticket.pk, tier=4).exists()

    assert wait_for(at_tier_4, timeout=50, interval=0.25), procs.logs()
    ticket.refresh_from_db()
    assert ticket.status == "pending_vendor" and ticket.owner is not None
    moves = list(
        ticket.events.filter(kind__in=[Kind.PROMOTED, Kind.VENDOR_HANDOFF])
        .order_by("created_at", "id")
        .values_list("kind", "data__from_tier", "data__to_tier")
    )
    assert moves == [
        (Kind.PROMOTED, 1, 2),
        (Kind.PROMOTED, 2, 3),
        (Kind.VENDOR_HANDOFF, 3, 4),
    ]
    for event in ticket.events.filter(kind=Kind.PROMOTED):
        assert event.data["budget_seconds"] == 2
        assert 0 <= event.data["lag_ms"] < 4000  # about the sweep interval (slack for CI load)

    mail_dir = tmp_path / "mail"

    def vendor_mail() -> str:
        for path in mail_dir.glob("*.log"):
            text = path.read_text(errors="replace")
            if vendor.email in text and "/vendor/" in text:
                return text
        return ""

    assert wait_for(lambda: bool(vendor_mail()), timeout=15), procs.logs()
    text = vendor_mail()
    assert f"[{ticket.reference}] Hand-off" in text
    path = re.search(r"https?://[^/\s]+(/vendor/[^/\s]+/)", text).group(1)
    page = client.get(path)
    assert page.status_code == 200 and "Dock firmware bricks laptops" in page.content.decode()
    assert reverse("tiers:vendor", kwargs={"token": "x"}).startswith("/vendor/")


N_CRASH = 600


@pytest.mark.parametrize(
    "procs", [{"ESCALATION_SWEEP_BATCH": "10", "CELERY_VISIBILITY_TIMEOUT": "5"}], indirect=True
)
def test_worker_killed_mid_sweep_then_restarted_promotes_each_ticket_once(
    procs, policies, category
):
    make_overdue_tickets(N_CRASH, category=category, due=timezone.now() - timedelta(seconds=1))

    def promoted() -> int:
        return TicketEvent.objects.filter(kind=Kind.PROMOTED).count()

    worker = procs.worker()
    # One sweep, sent by hand: no beat yet, so nothing else promotes meanwhile.
    celery_app.conf.task_always_eager = False  # this test talks to the real broker
    celery_app.send_task("tiers.tasks.escalation_sweep")
    assert wait_for(lambda: promoted() >= 30, timeout=40, interval=0.005), procs.logs()
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    time.sleep(1)  # PostgreSQL notices the dropped connection and rolls its batch back
    at_kill = promoted()
    assert 0 < at_kill < N_CRASH, f"the kill should land mid-sweep ({at_kill} promoted)"
    assert Ticket.objects.filter(tier=2).count() == at_kill  # no half-promoted batch

    procs.worker()
    procs.beat()
    done = wait_for(lambda: not Ticket.objects.filter(tier=1).exists(), timeout=50, interval=0.5)
    assert done, procs.logs()
    time.sleep(2)  # let any redelivered or late sweep run: it must find nothing
    assert Ticket.objects.filter(tier=2, escalation_count=1).count() == N_CRASH
    events = TicketEvent.objects.filter(kind=Kind.PROMOTED)
    assert events.count() == N_CRASH
    assert events.values("ticket_id").distinct().count() == N_CRASH

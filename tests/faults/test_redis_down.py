"""Redis (broker and cache) stopped: customers still submit, agents still work,
/healthz says "degraded"; when Redis returns, nothing was lost and overdue tickets are
promoted exactly once. The database is the source of truth; Redis is only a trigger."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tickets.models import Ticket, TicketEvent

from .harness import (
    Browser,
    CeleryWorker,
    Gunicorn,
    RedisServer,
    django_env,
    form_value,
    have_redis,
    wait_for,
)

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(not have_redis(), reason="needs redis-server"),
]
Kind = TicketEvent.Kind
# Test users are made with the fast MD5 hasher; the servers must be able to check them.
FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"


def _submit(browser: Browser, category_id: int, n: int):
    page = browser.get("/tickets/new/")
    assert page.status == 200, page.body[:500]
    return browser.post(
        "/tickets/new/",
        {
            "name": "Pat",
            "email": "pat@example.com",
            "category": category_id,
            "subject": f"Outlook keeps asking for my password ({n})",
            "description": "Since this morning Outlook asks for my password every minute.",
            "urgency": "high",
            "impact": "low",
            "submission_key": form_value(page.body, "submission_key"),
        },
    )


@pytest.mark.django_db(transaction=True)
def test_tickets_and_agent_work_continue_while_redis_is_down(
    policies, category, agent1, test_database_url, static_root, tmp_path
):
    redis = RedisServer().start()
    env = django_env(
        database_url=test_database_url,
        redis_url=redis.url(0),
        broker_url=redis.url(1),
        STATIC_ROOT=str(static_root),
        TIERDESK_VAR_DIR=str(tmp_path / "var"),
        DJANGO_PASSWORD_HASHERS=FAST_HASHER,
    )
    web = Gunicorn(env, workers=2, log=tmp_path / "gunicorn.log")
    try:
        web.start()
        customer = Browser(web.port)
        health = customer.get("/healthz")
        assert health.status == 200 and '"status": "ok"' in health.body

        redis.stop()

        health = customer.get("/healthz")
        assert health.status == 200, health.body
        assert '"status": "degraded"' in health.body
        assert '"broker": {"ok": false' in health.body

        started = time.monotonic()
        submitted = _submit(customer, category.pk, 1)
        assert submitted.status == 302, submitted.body[:500]
        assert time.monotonic() - started < 10, "the broker outage made submission hang"
        track = customer.get(submitted.location)
        assert track.status == 200

        agent = Browser(web.port)
        assert agent.login("agent1", "pw").status == 302
        assert agent.get("/agent/").status == 200
        ticket = Ticket.objects.get(subject__endswith="(1)")
        base = f"/agent/tickets/{ticket.reference}"
        assert agent.post(f"{base}/claim/", {}).status == 302
        assert (
            agent.post(f"{base}/reply/", {"body": "Please try signing out and in."}).status == 302
        )
        page = agent.get(f"{base}/")
        assert "You claimed the ticket." in page.body or "Reply sent." in page.body

        redis.start()
        wait_for(lambda: '"status": "ok"' in customer.get("/healthz").body, timeout=20,
                 what="healthz ok after Redis returns")  # fmt: skip
        assert _submit(customer, category.pk, 2).status == 302
    finally:
        web.stop()
        redis.stop()

    ticket.refresh_from_db()
    assert ticket.assignee == agent1
    kinds = list(ticket.events.values_list("kind", flat=True))
    assert kinds.count(Kind.CREATED) == 1 and Kind.ASSIGNED in kinds and Kind.REPLY in kinds
    # Notifications that could not be queued wait in the outbox and go out later.
    from tickets.services.notify import notifications_send_pending

    pending = TicketEvent.objects.filter(notify=True, notified_at__isnull=True)
    assert pending.filter(pk=ticket.events.get(kind=Kind.CREATED).pk).exists()
    assert notifications_send_pending(older_than=timedelta(0)) >= 1
    assert not pending.exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_overdue_tickets_are_promoted_once_when_redis_returns(
    policies, agent2, make_ticket, test_database_url, tmp_path
):
    from tiers.services import escalation_sweep

    redis = RedisServer().start()
    env = django_env(
        database_url=test_database_url,
        redis_url=redis.url(0),
        broker_url=redis.url(1),
        TIERDESK_VAR_DIR=str(tmp_path / "var"),
        ESCALATION_SWEEP_SECONDS="1",
    )
    worker = CeleryWorker(env, beat=True, log=tmp_path / "worker.log")
    try:
        worker.start()
        redis.stop()
        tickets = [make_ticket(subject=f"Overdue {i}") for i in range(3)]
        past = timezone.now() - timedelta(minutes=5)
        Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(escalate_at=past)
        time.sleep(3)
        assert set(
            Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("tier", flat=True)
        ) == {1}

        redis.start()

        def all_promoted() -> bool:
            return not Ticket.objects.filter(pk__in=[t.pk for t in tickets], tier=1).exists()

        wait_for(all_promoted, timeout=120, interval=0.5, what="the sweep after Redis returns")
        time.sleep(4)  # several more sweeps run: none may promote again
        escalation_sweep(now=timezone.now())  # and one more, in-process, at the same time
    finally:
        worker.stop()
        redis.stop()

    for ticket in tickets:
        promoted = ticket.events.filter(kind=Kind.PROMOTED)
        assert promoted.count() == 1, list(promoted.values("data"))
        ticket.refresh_from_db()
        assert ticket.tier == 2

"""Notifications go out in batches: a burst of events queues one task per window,
and one task sends every pending event over one mail connection per batch."""

from __future__ import annotations

from smtplib import SMTPException

import pytest
from django.core import mail

from tests.outage import DEAD_CACHE
from tickets.models import Notification, TicketEvent
from tickets.services import core, notify
from tickets.tasks import notifications_send

pytestmark = pytest.mark.django_db
Kind = TicketEvent.Kind


def pending():
    return TicketEvent.objects.filter(notify=True, notified_at__isnull=True)


@pytest.fixture
def five_unsent(make_ticket):
    """Five tickets whose confirmations are waiting (as if no task had run yet)."""
    tickets = [make_ticket(requester_email=f"user{i}@example.com") for i in range(5)]
    TicketEvent.objects.filter(ticket__in=tickets).update(notified_at=None)
    mail.outbox.clear()
    return tickets


def test_one_call_sends_every_pending_confirmation_once(five_unsent, monkeypatch):
    connections = []
    real = notify.get_connection
    monkeypatch.setattr(notify, "get_connection", lambda: connections.append(1) or real())

    assert notify.notifications_send_pending(batch=2) == 5
    assert sorted(m.to[0] for m in mail.outbox) == [f"user{i}@example.com" for i in range(5)]
    assert not pending().exists()
    assert len(connections) == 3  # batches of 2, 2 and 1: one mail connection each
    # Nothing is sent twice.
    assert notify.notifications_send_pending() == 0
    assert len(mail.outbox) == 5


def test_staff_hear_about_escalations_in_the_same_batch(make_ticket, agent1, agent2):
    ticket = make_ticket()
    core.ticket_claim(ticket=ticket, agent=agent1)
    core.ticket_escalate(
        ticket=ticket, actor=agent1, symptom="No login", steps_tried="Reset", findings="LDAP"
    )
    TicketEvent.objects.filter(ticket=ticket).update(notified_at=None)
    mail.outbox.clear()

    notify.notifications_send_pending()
    assert any(agent2.email in m.to for m in mail.outbox)
    assert Notification.objects.filter(user=agent2, ticket=ticket).count() == 1


def test_a_failing_send_keeps_the_rest_for_the_retry(five_unsent, monkeypatch):
    real = notify._send_event
    calls = []

    def flaky(event, **kwargs):
        calls.append(event.pk)
        if len(calls) == 3:
            raise SMTPException("server went away")
        return real(event, **kwargs)

    monkeypatch.setattr(notify, "_send_event", flaky)
    with pytest.raises(SMTPException):
        notify.notifications_send_pending()
    # The two sent before the failure are marked; the failing one and the rest wait.
    assert len(mail.outbox) == 2
    assert pending().count() == 3

    monkeypatch.setattr(notify, "_send_event", real)
    assert notify.notifications_send_pending() == 3
    assert len(mail.outbox) == 5 and not pending().exists()


@pytest.fixture
def batching(settings, monkeypatch):
    """Tasks queued, not run in-process: what a real worker setup does."""
    # The autouse _celery_eager fixture turns eager mode back on for the next test.
    notifications_send.app.conf.task_always_eager = False
    settings.NOTIFY_BATCH_SECONDS = 1
    queued = []
    monkeypatch.setattr(notifications_send, "apply_async", lambda **kwargs: queued.append(kwargs))
    return queued


def test_a_burst_of_events_queues_one_task_that_runs_after_the_window(batching):
    for pk in range(50):
        notify.notifications_kick(pk)
    assert len(batching) == 1
    # It runs once the window has closed, so it finds every event committed in it.
    assert batching[0]["countdown"] > 1


def test_the_next_window_queues_again(batching):
    from django.core.cache import cache

    notify.notifications_kick(1)
    cache.delete(notify.KICK_KEY)  # the window's key expired
    notify.notifications_kick(2)
    assert len(batching) == 2


def test_without_a_cache_every_event_queues_its_task(batching, settings):
    settings.CACHES = DEAD_CACHE
    notify.notifications_kick(1)
    notify.notifications_kick(2)
    assert len(batching) == 2


def test_broker_down_frees_the_window_for_the_next_event(batching, monkeypatch, caplog):
    from django.core.cache import cache

    def down(**kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(notifications_send, "apply_async", down)
    notify.notifications_kick(1)
    assert "outbox will retry" in caplog.text
    assert cache.get(notify.KICK_KEY) is None


def test_submission_queues_the_batch_task_after_commit(
    batching, make_ticket, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
    assert len(batching) == 1
    assert pending().filter(ticket=ticket).exists()  # sent by the task, not the request

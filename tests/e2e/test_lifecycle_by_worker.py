"""The lifecycle clocks on the real stack: Celery beat schedules the lifecycle sweep, a
worker runs it against PostgreSQL and sends the customers' e-mails."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.e2e.stack import mail_to, wait_until
from tickets.models import Ticket, TicketEvent
from tickets.services import ticket_reply, ticket_resolve

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_beat_and_worker_close_a_resolved_ticket_and_remind_a_waiting_one(
    make_ticket, agent1, celery_stack
):
    resolved = make_ticket(subject="Printer jam", requester_email="rita@example.com")
    ticket_resolve(ticket=resolved, actor=agent1, resolution="Cleared the jam.")
    waiting = make_ticket(subject="VPN drops", requester_email="wim@example.com")
    ticket_reply(ticket=waiting, agent=agent1, body="Which network are you on?",
                 pending_customer=True)  # fmt: skip
    # Eight days ago and four days ago, as far as the clocks can tell.
    now = timezone.now()
    Ticket.objects.filter(pk=resolved.pk).update(resolved_at=now - timedelta(days=8))
    Ticket.objects.filter(pk=waiting.pk).update(pending_since=now - timedelta(days=4))

    wait_until(
        lambda: Ticket.objects.get(pk=resolved.pk).status == Ticket.Status.CLOSED,
        timeout=60, message="the resolved ticket to close",
    )  # fmt: skip
    reminder = wait_until(
        lambda: TicketEvent.objects.filter(ticket=waiting, kind=TicketEvent.Kind.REMINDER).first(),
        timeout=60, message="the reminder",
    )  # fmt: skip
    assert reminder.is_public
    assert Ticket.objects.get(pk=waiting.pk).status == Ticket.Status.PENDING_CUSTOMER
    mail_dir = celery_stack["mail_dir"]
    wait_until(lambda: any("is now closed" in m for m in mail_to(mail_dir, "rita@example.com")),
               timeout=60, message="the closing e-mail")  # fmt: skip
    wait_until(lambda: any("A reminder about your request" in m
                           for m in mail_to(mail_dir, "wim@example.com")),
               timeout=60, message="the reminder e-mail")  # fmt: skip
    # Later runs of the beat (one a second here) change nothing: one reminder per wait,
    # one close.
    done_before = _lifecycle_runs(celery_stack)
    wait_until(lambda: _lifecycle_runs(celery_stack) >= done_before + 2,
               message="two more lifecycle runs")  # fmt: skip
    assert TicketEvent.objects.filter(ticket=waiting, kind=TicketEvent.Kind.REMINDER).count() == 1
    assert TicketEvent.objects.filter(ticket=resolved, kind=TicketEvent.Kind.CLOSED).count() == 1


def _lifecycle_runs(stack: dict) -> int:
    log = (stack["logs"] / "worker.log").read_text()
    return sum(
        1
        for line in log.splitlines()
        if "tickets.tasks.lifecycle_sweep[" in line and "succeeded" in line
    )

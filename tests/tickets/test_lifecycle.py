"""The clocks of a ticket's last days, with a fixed clock: the customer SLA pauses while
the desk waits on the customer; reminders, auto-resolve and auto-close."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tickets.models import Ticket, TicketEvent
from tickets.services import (
    ticket_change_status,
    ticket_customer_reply,
    ticket_reopen,
    ticket_reply,
    ticket_resolve,
)
from tickets.services.lifecycle import lifecycle_sweep
from tiers.services import escalation_sweep

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday; the test calendar is 24x7
H = timedelta(hours=1)
D = timedelta(days=1)
Kind = TicketEvent.Kind
Status = Ticket.Status

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _days(settings):
    settings.TICKET_PENDING_REMINDER_DAYS = 3
    settings.TICKET_PENDING_AUTORESOLVE_DAYS = 7
    settings.TICKET_AUTOCLOSE_DAYS = 7


@pytest.fixture
def ticket(make_ticket):
    with time_machine.travel(T0, tick=False):
        return make_ticket(priority="normal")  # SLA: first response 4 h, resolution 3 days


def at(moment: datetime, fn, /, **kwargs):
    with time_machine.travel(moment, tick=False):
        return fn(**kwargs)


def ask_customer(ticket, agent, moment):
    at(moment, ticket_reply, ticket=ticket, agent=agent, body="Which laptop is it?",
       pending_customer=True)  # fmt: skip
    ticket.refresh_from_db()


def sweep(moment: datetime):
    return at(moment, lifecycle_sweep, now=moment)


class TestCustomerSLAPauses:
    def test_waiting_on_the_customer_moves_the_resolution_target(self, ticket, agent1):
        assert ticket.resolution_due == T0 + 3 * D
        ask_customer(ticket, agent1, T0 + H)
        assert ticket.status == Status.PENDING_CUSTOMER
        assert ticket.pending_since == T0 + H
        assert ticket.sla_warn_at is None  # no SLA checkpoint fires while waiting

        at(T0 + H + 2 * D, ticket_customer_reply, ticket=ticket, body="The Dell one.")
        ticket.refresh_from_db()
        assert ticket.status == Status.OPEN and ticket.pending_since is None
        assert ticket.sla_paused_time == 2 * D
        assert ticket.resolution_due == T0 + 5 * D
        # The resolution warning (75 % of 3 days) moves with it.
        assert ticket.sla_warn_at == T0 + 3 * D * 0.75 + 2 * D
        event = ticket.events.filter(kind=Kind.STATUS).latest("created_at")
        assert event.data["sla"] == "resumed"
        assert event.data["sla_paused_seconds"] == 2 * 86400
        assert event.data["resolution_due"] == (T0 + 5 * D).isoformat()

    def test_no_breach_fires_for_a_ticket_that_waits_past_its_due(self, ticket, agent1):
        ask_customer(ticket, agent1, T0 + H)
        report = at(T0 + 4 * D, escalation_sweep, now=T0 + 4 * D)
        assert report.sla_breaches == []
        ticket.refresh_from_db()
        assert ticket.sla_breached_at is None

    def test_the_target_runs_again_after_the_wait(self, ticket, agent1):
        ask_customer(ticket, agent1, T0 + H)
        at(T0 + H + D, ticket_change_status, ticket=ticket, actor=agent1, status=Status.OPEN)
        ticket.refresh_from_db()
        assert ticket.resolution_due == T0 + 4 * D
        report = at(T0 + 4 * D, escalation_sweep, now=T0 + 4 * D)
        assert report.sla_breaches == [(ticket.reference, "resolution")]

    def test_a_target_missed_before_the_wait_is_not_moved_or_fired_again(self, ticket, manager):
        at(T0 + H, ticket_reply, ticket=ticket, agent=manager, body="Looking.")
        # The resolution breach fires (the tier timer climbs meanwhile; a manager acts
        # on any tier).
        at(T0 + 3 * D, escalation_sweep, now=T0 + 3 * D)
        ask_customer(ticket, manager, T0 + 3 * D + H)
        at(T0 + 5 * D, ticket_customer_reply, ticket=ticket, body="Still broken.")
        ticket.refresh_from_db()
        assert ticket.resolution_due == T0 + 3 * D
        at(T0 + 5 * D + H, escalation_sweep, now=T0 + 5 * D + H)
        assert ticket.events.filter(kind=Kind.SLA_BREACH).count() == 1

    def test_the_agent_timeline_explains_both_clocks(self, ticket, agent1, client):
        ask_customer(ticket, agent1, T0 + H)
        at(T0 + H + 2 * D, ticket_customer_reply, ticket=ticket, body="Here it is.")
        client.force_login(agent1)
        page = client.get(f"/agent/tickets/{ticket.reference}/").content.decode()
        assert "tier clock paused, customer SLA paused" in page
        assert "tier clock resumed, customer SLA resumed: resolution target moved by 2d 0h" in page


class TestReminders:
    def test_one_reminder_after_three_days_of_waiting(self, ticket, agent1, mailoutbox,
                                                      django_capture_on_commit_callbacks):  # fmt: skip
        ask_customer(ticket, agent1, T0 + H)
        assert sweep(T0 + H + 3 * D - timedelta(seconds=1)).reminded == []
        mailoutbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            report = sweep(T0 + H + 3 * D)
        assert report.reminded == [ticket.reference]
        reminder = ticket.events.get(kind=Kind.REMINDER)
        assert reminder.is_public
        assert "within 4 days" in reminder.body  # 7 - 3 days left before it is resolved
        assert [m.to for m in mailoutbox] == [["pat@example.com"]]
        assert "A reminder about your request" in mailoutbox[0].alternatives[0][0]
        assert sweep(T0 + H + 4 * D).reminded == []  # once per wait

    def test_a_new_wait_gets_its_own_reminder(self, ticket, agent1):
        ask_customer(ticket, agent1, T0 + H)
        sweep(T0 + H + 3 * D)
        at(T0 + 4 * D, ticket_customer_reply, ticket=ticket, body="Here it is.")
        ask_customer(ticket, agent1, T0 + 4 * D + H)
        assert sweep(T0 + 6 * D).reminded == []
        assert sweep(T0 + 7 * D + H).reminded == [ticket.reference]
        assert ticket.events.filter(kind=Kind.REMINDER).count() == 2

    def test_the_customer_sees_the_reminder_on_the_tracking_page(self, ticket, agent1, client):
        ask_customer(ticket, agent1, T0 + H)
        sweep(T0 + H + 3 * D)
        page = client.get(ticket.get_tracking_url()).content.decode()
        assert "We sent you a reminder" in page
        assert "We are still waiting for your answer" in page

    def test_off_when_set_to_zero(self, ticket, agent1, settings):
        settings.TICKET_PENDING_REMINDER_DAYS = 0
        ask_customer(ticket, agent1, T0 + H)
        assert sweep(T0 + 5 * D).reminded == []


class TestAutoResolve:
    def test_an_unanswered_ticket_is_resolved_after_seven_days(self, ticket, agent1,
                                                               mailoutbox,
                                                               django_capture_on_commit_callbacks):  # fmt: skip
        ask_customer(ticket, agent1, T0 + H)
        mailoutbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            report = sweep(T0 + H + 7 * D)
        assert report.resolved == [ticket.reference]
        assert report.reminded == []  # resolved, not reminded a moment before
        ticket.refresh_from_db()
        assert ticket.status == Status.RESOLVED
        assert ticket.resolved_by is None and not ticket.first_contact_resolution
        assert ticket.pending_since is None
        event = ticket.events.get(kind=Kind.RESOLVED)
        assert event.data["reason"] == "no_customer_answer"
        assert "did not hear back from you for 7 days" in event.body
        assert len(mailoutbox) == 1 and "How did we do?" in mailoutbox[0].body

    def test_the_customer_can_still_reopen_it(self, ticket, agent1):
        ask_customer(ticket, agent1, T0 + H)
        sweep(T0 + H + 7 * D)
        at(T0 + 8 * D, ticket_customer_reply, ticket=ticket, body="Sorry, I was away.")
        ticket.refresh_from_db()
        assert ticket.status in (Status.NEW, Status.OPEN) and ticket.reopen_count == 1


class TestAutoClose:
    def test_a_resolved_ticket_closes_after_seven_days_and_the_customer_is_told(
        self, ticket, agent1, mailoutbox, django_capture_on_commit_callbacks
    ):
        at(T0 + H, ticket_resolve, ticket=ticket, actor=agent1, resolution="Password reset.")
        assert sweep(T0 + H + 7 * D - timedelta(seconds=1)).closed == []
        mailoutbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            report = sweep(T0 + H + 7 * D)
        assert report.closed == [ticket.reference]
        ticket.refresh_from_db()
        assert ticket.status == Status.CLOSED and ticket.closed_at == T0 + H + 7 * D
        event = ticket.events.get(kind=Kind.CLOSED)
        assert "Closed automatically 7 days after it was resolved" in event.body
        assert [m.to for m in mailoutbox] == [["pat@example.com"]]
        assert "is now closed" in mailoutbox[0].body
        assert sweep(T0 + 9 * D).closed == []

    def test_a_reopened_ticket_is_not_closed(self, ticket, agent1):
        at(T0 + H, ticket_resolve, ticket=ticket, actor=agent1, resolution="Done.")
        at(T0 + 2 * D, ticket_reopen, ticket=ticket, actor=None, reason="Not fixed.")
        assert sweep(T0 + 9 * D).closed == []

    def test_many_tickets_over_batch_boundaries(self, make_ticket, agent1, monkeypatch):
        from tickets.services import lifecycle

        monkeypatch.setattr(lifecycle, "BATCH", 3)
        with time_machine.travel(T0, tick=False):
            tickets = [make_ticket(subject=f"Issue {i}") for i in range(7)]
        for t in tickets:
            at(T0 + H, ticket_resolve, ticket=t, actor=agent1, resolution="Fixed.")
        assert len(sweep(T0 + 8 * D).closed) == 7
        assert set(Ticket.objects.values_list("status", flat=True)) == {Status.CLOSED}

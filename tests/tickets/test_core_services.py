"""The ticket lifecycle through its services, with a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from helpdesk.exceptions import ConflictError, ForbiddenError
from tickets.models import Ticket, TicketEvent
from tickets.services import (
    TicketError,
    ticket_assign,
    ticket_change_status,
    ticket_claim,
    ticket_create,
    ticket_customer_reply,
    ticket_escalate,
    ticket_reply,
    ticket_resolve,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
Kind = TicketEvent.Kind

pytestmark = pytest.mark.django_db


@time_machine.travel(T0, tick=False)
def test_create_sets_reference_token_clocks_and_event(make_ticket):
    ticket = make_ticket(priority="normal")
    assert ticket.reference == f"TD-{ticket.pk:06d}"
    assert len(ticket.tracking_token) >= 43  # 256 bits, base64url
    assert ticket.tier == 1 and ticket.status == "new"
    assert ticket.escalate_at == T0 + timedelta(hours=8)
    assert ticket.escalation_warn_at == T0 + timedelta(hours=6)
    assert ticket.first_response_due == T0 + timedelta(hours=4)
    assert list(ticket.events.values_list("kind", flat=True)) == [Kind.CREATED]


def test_same_submission_key_creates_one_ticket(make_ticket):
    first = make_ticket(submission_key="abc123")
    second = make_ticket(submission_key="abc123")
    assert first.pk == second.pk
    assert Ticket.objects.count() == 1


def test_claim_is_exclusive(make_ticket, agent1):
    from tests.factories import make_agent

    other = make_agent(1)
    ticket = make_ticket()
    ticket_claim(ticket=ticket, agent=agent1)
    with pytest.raises(ConflictError, match="already claimed by agent1"):
        ticket_claim(ticket=ticket, agent=other)
    ticket.refresh_from_db()
    assert ticket.assignee == agent1 and ticket.status == "open"
    assert ticket.events.filter(kind=Kind.ASSIGNED).count() == 1


def test_tier1_agent_cannot_act_on_tier3_ticket(make_ticket, agent1, agent3):
    ticket = make_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(tier=3)
    ticket.refresh_from_db()
    with pytest.raises(ForbiddenError):
        ticket_claim(ticket=ticket, agent=agent1)
    ticket_claim(ticket=ticket, agent=agent3)


def test_escalate_requires_a_handoff(make_ticket, agent1):
    ticket = make_ticket()
    with pytest.raises(TicketError, match="hand-off needs"):
        ticket_escalate(ticket=ticket, actor=agent1, symptom="x", steps_tried="", findings="y")
    assert Ticket.objects.get(pk=ticket.pk).tier == 1
    assert not ticket.events.filter(kind=Kind.ESCALATED).exists()


def test_escalate_moves_up_clears_assignee_and_restarts_budget(make_ticket, agent1):
    with time_machine.travel(T0, tick=False):
        ticket = make_ticket(priority="high")
        ticket_claim(ticket=ticket, agent=agent1)
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        ticket = ticket_escalate(
            ticket=ticket,
            actor=agent1,
            symptom="VPN drops",
            steps_tried="Reinstalled client",
            findings="Only on Wi-Fi",
        )
    assert ticket.tier == 2 and ticket.assignee is None and ticket.status == "new"
    assert ticket.escalate_at == T0 + timedelta(minutes=30) + timedelta(hours=4)
    event = ticket.events.get(kind=Kind.ESCALATED)
    assert event.data["handoff"]["steps_tried"] == "Reinstalled client"
    assert ticket.escalation_count == 1


def test_stale_manual_escalation_is_refused(make_ticket, agent2):
    ticket = make_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(tier=2)
    with pytest.raises(ConflictError):
        ticket_escalate(
            ticket=ticket, actor=agent2, symptom="a", steps_tried="b", findings="c", expected_tier=1
        )


def test_pending_customer_pauses_and_resume_moves_deadline(make_ticket, agent1):
    with time_machine.travel(T0, tick=False):
        ticket = make_ticket()  # normal: 8 h budget → 17:00
        ticket_claim(ticket=ticket, agent=agent1)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        ticket_reply(
            ticket=ticket, agent=agent1, body="Which error do you see?", pending_customer=True
        )
        ticket.refresh_from_db()
        assert ticket.status == "pending_customer" and ticket.escalate_at is None
    with time_machine.travel(T0 + timedelta(hours=5), tick=False):
        ticket_customer_reply(ticket=ticket, body="Error 0x80070005")
        ticket.refresh_from_db()
    assert ticket.status == "open"
    assert ticket.escalate_at == T0 + timedelta(hours=11)  # 3 h paused
    assert ticket.paused_business_time == timedelta(hours=3)


def test_resolve_first_contact_and_reopen(make_ticket, agent1):
    ticket = make_ticket()
    ticket_claim(ticket=ticket, agent=agent1)
    ticket = ticket_resolve(ticket=ticket, actor=agent1, resolution="Reset the password.")
    assert ticket.status == "resolved" and ticket.first_contact_resolution
    assert ticket.escalate_at is None
    ticket_customer_reply(ticket=ticket, body="It broke again")
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.reopen_count == 1
    assert not ticket.first_contact_resolution and ticket.escalate_at is not None


def test_escalated_ticket_is_not_first_contact(make_ticket, agent1, agent2):
    ticket = make_ticket()
    ticket_escalate(ticket=ticket, actor=agent1, symptom="a", steps_tried="b", findings="c")
    ticket = ticket_resolve(
        ticket=Ticket.objects.get(pk=ticket.pk), actor=agent2, resolution="fixed"
    )
    assert not ticket.first_contact_resolution


def test_invalid_status_change_is_refused(make_ticket, agent1):
    ticket = make_ticket()
    with pytest.raises(TicketError, match="cannot be set"):
        ticket_change_status(ticket=ticket, actor=agent1, status="closed")


def test_notifications_go_out_after_commit(
    make_ticket, agent1, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_create(
            category=make_ticket().category,
            subject="Printer jam",
            description="Paper stuck in tray 2",
            requester_name="Sam",
            requester_email="sam@example.com",
        )
    assert any(ticket.reference in m.subject and "sam@example.com" in m.to for m in mailoutbox)
    assert ticket.events.get(kind=Kind.CREATED).notified_at is not None


def test_only_the_assignee_or_a_manager_unassigns(make_ticket, agent1, manager):
    from tests.factories import make_agent

    colleague = make_agent(1)
    ticket = ticket_claim(ticket=make_ticket(), agent=agent1)
    with pytest.raises(ForbiddenError, match="Only the assignee or a manager"):
        ticket_assign(ticket=ticket, actor=colleague, assignee=None)
    assert Ticket.objects.get(pk=ticket.pk).assignee == agent1
    ticket_assign(ticket=ticket, actor=manager, assignee=None)
    assert Ticket.objects.get(pk=ticket.pk).assignee is None

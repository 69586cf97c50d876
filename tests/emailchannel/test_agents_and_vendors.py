"""Agents answer staff notifications and vendors answer the hand-off mail from
their mail clients; the token in our mail says whose thread it is."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from emailchannel.models import InboundMessage, QuarantinedMessage
from emailchannel.services import mail_ingest
from helpdesk import mailthread
from tests.factories import VendorFactory, make_agent
from tickets.models import TicketEvent
from tickets.services import ticket_add_note, ticket_claim, ticket_escalate, ticket_reply
from tiers.models import VendorHandoff
from tiers.services import vendor_followup_sweep, vendor_handoff

from .conftest import eml, thread_of

pytestmark = pytest.mark.django_db
Kind = TicketEvent.Kind
Outcome = InboundMessage.Outcome
H = timedelta(hours=1)


def ingest(raw: bytes):
    return mail_ingest(raw=raw, source=InboundMessage.Source.IMAP)


def staff_reply(ticket, agent, first_line: str = "") -> bytes:
    return eml(
        "agent_reply.eml", agent_email=agent.email, first_line=first_line, **thread_of(ticket, "s")
    )


def test_an_agent_answering_a_staff_notification_posts_a_public_reply(
    ticket, agent1, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        result = ingest(staff_reply(ticket, agent1))
    assert result.outcome == Outcome.AGENT_REPLY
    reply = ticket.events.get(kind=Kind.REPLY)
    assert reply.actor == agent1 and reply.is_public
    assert reply.body == "I unlocked the account in the directory; please log in again."
    assert [m.to for m in mail.outbox] == [["pat@example.com"]]  # the customer is told
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None


def test_a_note_line_makes_it_internal_and_the_customer_hears_nothing(
    ticket, agent1, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        result = ingest(staff_reply(ticket, agent1, first_line="#note"))
    assert result.outcome == Outcome.AGENT_NOTE
    note = ticket.events.get(kind=Kind.NOTE)
    assert not note.is_public and "#note" not in note.body
    assert not ticket.events.filter(kind=Kind.REPLY).exists()
    assert mail.outbox == []


def test_a_stranger_cannot_answer_a_staff_thread(ticket, agent1):
    raw = staff_reply(ticket, agent1).replace(agent1.email.encode(), b"mallory@evil.example")
    result = ingest(raw)
    assert result.outcome == Outcome.QUARANTINED
    row = QuarantinedMessage.objects.get()
    assert row.reason == QuarantinedMessage.Reason.REFUSED
    assert "is not a help-desk agent" in row.detail
    assert not ticket.events.filter(kind__in=[Kind.REPLY, Kind.NOTE]).exists()


def test_an_agent_below_the_tickets_tier_is_refused(ticket, agent1, manager):
    ticket_escalate(ticket=ticket, actor=manager, symptom="s", steps_tried="t", findings="f")
    result = ingest(staff_reply(ticket, agent1))
    assert result.outcome == Outcome.QUARANTINED
    assert "cannot act on" in QuarantinedMessage.objects.get().detail


def test_staff_without_the_signed_address_cannot_post_by_subject(ticket, agent1):
    values = {"reference": ticket.reference, "in_reply_to": "<x@y>", "references": "<x@y>",
              "to": "support@tierdesk.local"}  # fmt: skip
    raw = eml("agent_reply.eml", agent_email=agent1.email, first_line="", **values)
    assert ingest(raw).outcome == Outcome.QUARANTINED
    assert "signed reply address" in QuarantinedMessage.objects.get().detail


@pytest.fixture
def handoff(make_ticket, manager, category, django_capture_on_commit_callbacks):
    agent3 = make_agent(3, username="agent3")
    vendor = VendorFactory(email="support@vendor.example", response_target=8 * H)
    vendor.categories.add(category)
    ticket = make_ticket(subject="Firmware crash", requester_email="pat@example.com")
    ticket_reply(ticket=ticket, agent=manager, body="Looking at it.")
    ticket_add_note(ticket=ticket, agent=manager, body="internal")
    for _ in range(2):
        ticket_escalate(ticket=ticket, actor=manager, symptom="s", steps_tried="t", findings="f")
    ticket_claim(ticket=ticket, agent=agent3)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        return vendor_handoff(ticket=ticket, actor=agent3, summary="Crashes on boot.")


def test_the_hand_off_mail_carries_the_vendor_reply_address(handoff):
    [sent] = [m for m in mail.outbox if m.to == ["support@vendor.example"]]
    token = mailthread.token_for("v", handoff.pk).text
    assert sent.extra_headers["Reply-To"] == f"support+{token}@tierdesk.local"


def test_a_vendor_reply_becomes_a_vendor_update_and_stops_the_chase(handoff):
    token = mailthread.token_for("v", handoff.pk)
    raw = eml(
        "vendor_reply.eml",
        vendor_email="support@vendor.example",
        to=mailthread.reply_address(token),
        reference=handoff.ticket.reference,
        in_reply_to=mailthread.message_id(token),
    )
    result = ingest(raw)
    assert result.outcome == Outcome.VENDOR_UPDATE
    update = handoff.ticket.events.get(kind=Kind.VENDOR_UPDATE)
    assert update.body.startswith("We reproduced the crash with firmware 4.2.1.")
    assert "Original Message" not in update.body
    handoff.refresh_from_db()
    assert handoff.first_response_at is not None
    # The chase reminder is only for vendors that have not answered.
    report = vendor_followup_sweep(now=handoff.created_at + 7 * H)
    assert report.chased == []


def test_a_vendor_reply_without_our_address_is_found_by_reference_and_sender(handoff):
    raw = eml("vendor_reply.eml", vendor_email="support@vendor.example",
              to="support@tierdesk.local", reference=handoff.ticket.reference,
              in_reply_to="<their-own@vendor.example>")  # fmt: skip
    assert ingest(raw).outcome == Outcome.VENDOR_UPDATE
    assert VendorHandoff.objects.get(pk=handoff.pk).first_response_at is not None


def test_someone_else_quoting_the_vendor_subject_is_not_a_vendor_update(handoff):
    raw = eml("vendor_reply.eml", vendor_email="mallory@evil.example",
              to="support@tierdesk.local", reference=handoff.ticket.reference,
              in_reply_to="<x@y>")  # fmt: skip
    assert ingest(raw).outcome == Outcome.CREATED
    assert not handoff.ticket.events.filter(kind=Kind.VENDOR_UPDATE).exists()


def test_manager_alerts_are_threaded_in_the_staff_thread(
    handoff, manager, django_capture_on_commit_callbacks
):
    from tiers.services import vendor_followup_sweep as sweep

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sweep(now=handoff.respond_by + H)  # the vendor missed its response target
    [alert] = [m for m in mail.outbox if manager.email in m.to]
    token = mailthread.token_for("s", handoff.ticket_id)
    assert alert.extra_headers["Reply-To"] == mailthread.reply_address(token)
    assert alert.extra_headers["Auto-Submitted"] == "auto-generated"

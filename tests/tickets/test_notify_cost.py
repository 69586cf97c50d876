"""ticket_event_send loads only the columns its e-mails read: the same messages as
from fully loaded rows, and no query per deferred field."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tickets.models import Ticket, TicketEvent
from tickets.services import core, notify

pytestmark = pytest.mark.django_db
Kind = TicketEvent.Kind


def _all_fields() -> tuple[str, ...]:
    from django.contrib.auth import get_user_model

    def concrete(model, prefix=""):
        return [prefix + f.attname for f in model._meta.concrete_fields]

    return (
        *concrete(TicketEvent),
        *concrete(Ticket, "ticket__"),
        *concrete(get_user_model(), "actor__"),
    )


def _send(event: TicketEvent):
    mail.outbox.clear()
    with CaptureQueriesContext(connection) as ctx:
        sent = notify.ticket_event_send(event_id=event.pk)
    messages = [(m.to, m.subject, m.body, m.alternatives) for m in mail.outbox]
    # The transaction statements are savepoints inside the test's transaction.
    return sent, messages, [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]


def _same_as_fully_loaded(event: TicketEvent, monkeypatch) -> tuple[int, list[str]]:
    sent, messages, sql = _send(event)
    assert sent and messages
    TicketEvent.objects.filter(pk=event.pk).update(notified_at=None)
    monkeypatch.setattr(notify, "_SEND_FIELDS", _all_fields())
    sent_full, messages_full, _ = _send(event)
    monkeypatch.undo()
    assert (sent, messages) == (sent_full, messages_full)
    return sent, sql


@pytest.fixture
def ticket(make_ticket, agent1, agent2):
    agent1.first_name = "Alex"
    agent1.save()
    return make_ticket()


def test_confirmation_is_unchanged_and_costs_four_queries(ticket, monkeypatch):
    event = ticket.events.get(kind=Kind.CREATED)
    sent, sql = _same_as_fully_loaded(event, monkeypatch)
    assert sent == 1
    # With BEGIN and COMMIT, four: the locked row with its ticket and actor, then the
    # notified_at update.
    assert len(sql) == 2, sql
    assert sql[0].startswith("SELECT") and "FOR UPDATE" in sql[0]
    assert '"created_at"' not in sql[0].split("ORDER BY")[-1]  # no default ordering
    assert '"password"' not in sql[0] and '"tickets_category"' not in sql[0]
    body = mail.outbox[0].body
    assert ticket.reference in body and ticket.subject in body and ticket.tracking_token in body


def test_reply_resolution_and_staff_mails_are_unchanged(ticket, agent1, monkeypatch):
    core.ticket_claim(ticket=ticket, agent=agent1)
    core.ticket_reply(ticket=ticket, agent=agent1, body="Try **this** please")
    reply = ticket.events.get(kind=Kind.REPLY)
    sent, sql = _same_as_fully_loaded(reply, monkeypatch)
    assert sent == 1 and len(sql) == 2
    assert "Alex replied" in mail.outbox[0].body
    core.ticket_escalate(
        ticket=ticket, actor=agent1, symptom="No login", steps_tried="Reset", findings="LDAP"
    )
    escalated = ticket.events.get(kind=Kind.ESCALATED)
    sent, sql = _same_as_fully_loaded(escalated, monkeypatch)
    assert sent >= 1
    assert "agent1" in mail.outbox[0].body or agent1.get_username() in mail.outbox[0].body
    # Lock + recipients + notifications insert + notified_at update: no lazy loads.
    assert len(sql) <= 4, sql


def test_the_mail_on_the_wire_has_both_parts_and_a_fresh_boundary(ticket):
    """The boundary is set by us (the standard library's costs a regex compile per
    message); the message must still parse into its text and HTML parts."""
    import email

    notify.ticket_event_send(event_id=ticket.events.get(kind=Kind.CREATED).pk)
    notify.send_templated_mail(
        to=["pat@example.com"],
        subject="Again",
        template="ticket_event_customer",
        context={"event": ticket.events.first(), "ticket": ticket, "site_url": "", "tier_name": ""},
    )
    first, second = (email.message_from_bytes(m.message().as_bytes()) for m in mail.outbox[-2:])
    assert first.get_boundary() != second.get_boundary()
    parts = [p.get_content_type() for p in first.walk() if not p.is_multipart()]
    assert parts == ["text/plain", "text/html"]
    text = first.get_payload()[0].get_payload(decode=True).decode()
    assert ticket.tracking_token in text
    assert f"--{first.get_boundary()}" not in text

"""Outgoing mail through a real SMTP receiver (aiosmtpd): the headers that thread
it and bring replies back, and a whole conversation by e-mail alone."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from emailchannel.models import InboundMessage
from emailchannel.services import mail_ingest
from helpdesk import mailthread
from tickets.models import Ticket, TicketEvent
from tickets.services import ticket_claim, ticket_resolve

from .conftest import eml
from .servers import smtp_receiver

pytestmark = pytest.mark.django_db
Kind = TicketEvent.Kind


@pytest.fixture
def smtp(settings):
    with smtp_receiver() as receiver:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", receiver.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield receiver


def received(smtp, to: str) -> list[EmailMessage]:
    found = [message_from_bytes(raw, policy=policy.default) for raw in smtp.messages]
    return [m for m in found if to in str(m["To"])]


def answer(to_mail: EmailMessage, *, sender: str, text: str, nonce: str) -> bytes:
    """What a mail client sends when its user presses Reply (Reply-To honoured)."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = str(to_mail["Reply-To"] or to_mail["From"])
    reply["Subject"] = "Re: " + str(to_mail["Subject"])
    reply["Message-ID"] = f"<{nonce}@client.example>"
    reply["In-Reply-To"] = str(to_mail["Message-ID"])
    reply["References"] = f"{to_mail['References']} {to_mail['Message-ID']}"
    quoted = "\n".join(
        "> " + line for line in to_mail.get_body(("plain",)).get_content().splitlines()
    )
    reply.set_content(f"{text}\n\nOn Tue, 8 Dec 2026, Tierdesk wrote:\n{quoted}\n")
    return reply.as_bytes()


def test_a_ticket_is_opened_followed_and_resolved_by_e_mail_alone(
    smtp, policies, category, agent1, django_capture_on_commit_callbacks
):
    customer = "pat.customer@gmail.com"
    with django_capture_on_commit_callbacks(execute=True):
        opened = mail_ingest(raw=eml("gmail_new_ticket.eml"), source="imap")
    ticket = Ticket.objects.get(reference=opened.ticket_reference)
    [ack] = received(smtp, customer)
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["X-Auto-Response-Suppress"] == "All"
    assert mailthread.tokens_in(str(ack["Reply-To"])) == [mailthread.token_for("c", ticket.pk)]
    assert "<CAF3kq9xR2pY0Wm3v+new-ticket-7Q@mail.gmail.com>" in str(ack["References"])

    # The agent claims it; the customer adds details by replying to the acknowledgement.
    ticket_claim(ticket=ticket, agent=agent1)
    with django_capture_on_commit_callbacks(execute=True):
        followed = mail_ingest(
            raw=answer(ack, sender=customer, text="It happens on Wi-Fi only.", nonce="c1"),
            source="imap",
        )
    assert followed.outcome == InboundMessage.Outcome.CUSTOMER_REPLY
    assert ticket.events.get(kind=Kind.CUSTOMER_REPLY).body == "It happens on Wi-Fi only."

    # The agent is told, and answers from their mail client.
    [staff_mail] = received(smtp, agent1.email)
    assert staff_mail["Auto-Submitted"] == "auto-generated"
    assert mailthread.tokens_in(str(staff_mail["Reply-To"])) == [
        mailthread.token_for("s", ticket.pk)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        mail_ingest(
            raw=answer(staff_mail, sender=agent1.email, text="Please forget the Wi-Fi and reconnect.", nonce="a1"),
            source="imap",
        )  # fmt: skip
    reply_mail = received(smtp, customer)[-1]
    assert "Please forget the Wi-Fi and reconnect." in reply_mail.get_body(("plain",)).get_content()
    assert reply_mail["Auto-Submitted"] is None  # a person wrote it
    assert str(reply_mail["In-Reply-To"]) in str(reply_mail["References"])

    with django_capture_on_commit_callbacks(execute=True):
        ticket_resolve(ticket=ticket, actor=agent1, resolution="Reconnected the VPN profile.")
    resolved_mail = received(smtp, customer)[-1]
    assert "Reconnected the VPN profile." in resolved_mail.get_body(("plain",)).get_content()
    # Every mail of the conversation names the same thread root, so clients group them.
    root = mailthread.message_id(mailthread.token_for("c", ticket.pk))
    assert all(root in str(m["References"]) for m in received(smtp, customer))
    assert len({str(m["Message-ID"]) for m in received(smtp, customer)}) == len(
        received(smtp, customer)
    )


def test_without_a_reply_address_pattern_there_is_no_reply_to(settings):
    settings.EMAIL_REPLY_ADDRESS = ""

    from tickets.services.notify import thread_headers

    headers = thread_headers(audience="c", object_id=7, event_id=9)
    assert "Reply-To" not in headers and "Auto-Submitted" not in headers
    assert headers["Message-ID"].startswith("<td.e9.c7.")
    assert (
        headers["In-Reply-To"]
        == headers["References"]
        == mailthread.message_id(mailthread.token_for("c", 7))
    )

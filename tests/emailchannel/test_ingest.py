"""The ingest service on real messages: new tickets, threaded replies, machines that
must not be answered, quarantine, and who may write where."""

from __future__ import annotations

import pytest
from django.core import mail

from emailchannel.models import InboundMessage, QuarantinedMessage
from emailchannel.services import mail_ingest, quarantine_retry
from helpdesk import mailthread
from tests.factories import CategoryFactory
from tickets.models import Attachment, Ticket, TicketEvent
from tickets.services import ticket_resolve

from .conftest import eml, thread_of

pytestmark = pytest.mark.django_db
Kind = TicketEvent.Kind
Outcome = InboundMessage.Outcome
SOURCE = InboundMessage.Source.COMMAND


def ingest(raw: bytes):
    return mail_ingest(raw=raw, source=SOURCE)


def test_a_gmail_message_opens_a_ticket_and_is_acknowledged_in_its_thread(
    policies, category, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = ingest(eml("gmail_new_ticket.eml"))
    assert result.outcome == Outcome.CREATED
    ticket = Ticket.objects.get(reference=result.ticket_reference)
    assert ticket.subject == "VPN keeps disconnecting every few minutes"
    assert ticket.requester_email == "pat.customer@gmail.com"
    assert ticket.requester_name == "Pat Customer"
    assert ticket.category == category and ticket.tier == 1
    assert "drops every five minutes" in ticket.description
    assert "“reconnecting”" in ticket.description  # quoted-printable UTF-8 decoded
    created = ticket.events.get(kind=Kind.CREATED)
    assert created.data["via"] == "email"

    [ack] = mail.outbox
    assert ack.to == ["pat.customer@gmail.com"]
    headers = ack.extra_headers
    token = mailthread.token_for("c", ticket.pk).text
    assert headers["Reply-To"] == f"support+{token}@tierdesk.local"
    assert headers["Auto-Submitted"] == "auto-replied"
    # The customer's client threads our answer under their own message.
    assert headers["References"].startswith("<CAF3kq9xR2pY0Wm3v+new-ticket-7Q@mail.gmail.com>")
    assert headers["In-Reply-To"] == mailthread.message_id(mailthread.token_for("c", ticket.pk))
    assert token in headers["Message-ID"]


def test_the_same_message_id_twice_makes_one_ticket(policies, category):
    first = ingest(eml("gmail_new_ticket.eml"))
    second = ingest(eml("gmail_new_ticket.eml"))
    assert second.duplicate and second.ticket_reference == first.ticket_reference
    assert Ticket.objects.count() == 1
    assert TicketEvent.objects.filter(kind=Kind.CREATED).count() == 1
    assert InboundMessage.objects.count() == 1


def test_a_gmail_reply_is_threaded_stripped_and_reopens_a_resolved_ticket(ticket, agent1):
    ticket_resolve(ticket=ticket, actor=agent1, resolution="Password reset.")
    result = ingest(eml("gmail_reply.eml", **thread_of(ticket)))
    assert result.outcome == Outcome.CUSTOMER_REPLY and result.ticket_reference == ticket.reference
    reply = ticket.events.get(kind=Kind.CUSTOMER_REPLY)
    assert reply.body == "Thanks, the new password works now. You can close it."
    assert reply.is_public
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.NEW and ticket.reopen_count == 1


def test_an_outlook_reply_found_by_the_signed_reply_address_keeps_its_inline_image(ticket):
    # Outlook sent no In-Reply-To here: only the signed address in To: ties it.
    values = thread_of(ticket)
    values["to"] = mailthread.reply_address(mailthread.token_for("c", ticket.pk))
    result = ingest(eml("outlook_reply.eml", **values))
    assert result.outcome == Outcome.CUSTOMER_REPLY
    reply = ticket.events.get(kind=Kind.CUSTOMER_REPLY)
    assert reply.body.startswith("Hi,\n\nIt still fails.")
    assert "We have reset your password" not in reply.body  # the quoted mail is cut
    [image] = Attachment.objects.filter(ticket=ticket)
    assert image.original_name == "image001.png" and image.event_id == reply.pk


def test_an_apple_mail_reply_is_threaded_by_references(ticket):
    values = thread_of(ticket)
    values["in_reply_to"] = "<unknown@elsewhere>"  # only References names our thread
    ingest(eml("apple_mail_reply.eml", **values))
    reply = ticket.events.get(kind=Kind.CUSTOMER_REPLY)
    assert reply.body.startswith("I tried again from my Mac: same error, «account locked».")
    assert "Please try again" not in reply.body


def test_an_html_only_message_becomes_plain_text_without_its_markup(policies, category):
    result = ingest(eml("html_only.eml"))
    ticket = Ticket.objects.get(reference=result.ticket_reference)
    assert "The printer PRN-3-EAST prints blank pages since the toner change." in ticket.description
    assert "- Restarted it" in ticket.description
    assert "Thanks & regards" in ticket.description
    for leftover in ("<", "alert", "ignored title", "font-family", "pixel.gif"):
        assert leftover not in ticket.description


@pytest.mark.parametrize(
    ("name", "subject", "sender_name", "text"),
    [
        ("latin1_subject.eml", "Imprimante en panne à l'accueil", "René Dupré", "« erreur 49 »"),
        (
            "utf8_subject.eml",
            "Пароль не работает 🔑",
            "Иван Петров",
            "Пароль не работает после смены",
        ),
    ],
)
def test_rfc2047_subjects_and_body_charsets_are_decoded(
    policies, category, name, subject, sender_name, text
):
    ticket = Ticket.objects.get(reference=ingest(eml(name)).ticket_reference)
    assert ticket.subject == subject
    assert ticket.requester_name == sender_name
    assert text in ticket.description


def test_a_bounce_is_recorded_on_its_ticket_and_never_answered(
    ticket, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    events = ticket.events.count()
    with django_capture_on_commit_callbacks(execute=True):
        result = ingest(eml("dsn_bounce.eml", **thread_of(ticket)))
    assert result.outcome == Outcome.BOUNCE
    assert InboundMessage.objects.get().ticket == ticket
    assert ticket.events.count() == events and mail.outbox == []


def test_an_out_of_office_reply_does_not_reopen_or_answer(
    ticket, agent1, django_capture_on_commit_callbacks
):
    ticket_resolve(ticket=ticket, actor=agent1, resolution="Done.")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        result = ingest(eml("out_of_office.eml", **thread_of(ticket)))
    assert result.outcome == Outcome.AUTO_REPLY
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED
    assert not ticket.events.filter(kind=Kind.CUSTOMER_REPLY).exists()
    assert mail.outbox == []


def test_mail_from_our_own_address_is_never_answered(policies, category):
    raw = eml("html_only.eml").replace(
        b'From: "Sam Sales" <sam@example.org>', b"From: Tierdesk <support@tierdesk.local>"
    )
    assert ingest(raw).outcome == Outcome.OWN
    assert not Ticket.objects.exists()


def test_broken_mime_is_quarantined_whole_once(policies, category):
    raw = eml("broken_mime.eml")
    result = ingest(raw)
    assert result.outcome == Outcome.QUARANTINED
    row = QuarantinedMessage.objects.get()
    assert row.reason == QuarantinedMessage.Reason.MALFORMED
    assert "StartBoundaryNotFoundDefect" in row.detail
    with row.raw.open("rb") as handle:
        assert handle.read() == raw
    assert ingest(raw).duplicate
    assert QuarantinedMessage.objects.count() == 1 and not Ticket.objects.exists()


def test_a_20_mb_attachment_is_refused_but_the_message_is_posted(policies, category):
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "Pat Customer <pat@example.com>"
    msg["To"] = "support@tierdesk.local"
    msg["Subject"] = "Crash dump attached"
    msg["Message-ID"] = "<big-attachment-0001@example.com>"
    msg.set_content("The application crashed; the dump is attached.")
    msg.add_attachment(b"PK\x03\x04" + b"\0" * (20 * 1024 * 1024), maintype="application",
                       subtype="zip", filename="dump.zip")  # fmt: skip
    raw = msg.as_bytes()
    assert len(raw) > 20 * 1024 * 1024
    result = ingest(raw)
    assert result.outcome == Outcome.CREATED
    ticket = Ticket.objects.get(reference=result.ticket_reference)
    assert ticket.description.startswith("The application crashed")
    assert "dump.zip is larger than 10 MB" in ticket.description
    assert not ticket.attachments.exists()


def test_a_message_above_the_size_limit_is_quarantined(settings, policies, category):
    settings.EMAIL_INBOUND_MAX_BYTES = 1000
    raw = eml("outlook_reply.eml", reference="TD-000001", to="support@tierdesk.local")
    assert ingest(raw).outcome == Outcome.QUARANTINED
    assert QuarantinedMessage.objects.get().reason == QuarantinedMessage.Reason.TOO_LARGE


def test_a_forged_from_with_a_subject_reference_cannot_post_to_the_ticket(ticket):
    raw = eml("gmail_reply.eml", reference=ticket.reference, in_reply_to="<x@y>",
              references="<x@y>", to="support@tierdesk.local")  # fmt: skip
    raw = raw.replace(
        b"From: Pat Customer <pat@example.com>", b"From: Mallory <mallory@evil.example>"
    )
    result = ingest(raw)
    assert result.outcome == Outcome.CREATED and result.ticket_reference != ticket.reference
    assert not ticket.events.filter(kind=Kind.CUSTOMER_REPLY).exists()


def test_a_forged_token_is_not_a_token(ticket):
    token = mailthread.token_for("c", ticket.pk).text
    forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    values = {"reference": "no ref", "in_reply_to": f"<td.e1.{forged}@tierdesk.local>",
              "references": "<x@y>", "to": f"support+{forged}@tierdesk.local"}  # fmt: skip
    raw = eml("gmail_reply.eml", **values).replace(b"pat@example.com", b"mallory@evil.example")
    assert ingest(raw).outcome == Outcome.CREATED
    assert not ticket.events.filter(kind=Kind.CUSTOMER_REPLY).exists()


def test_the_requester_by_subject_needs_the_trusted_mta_to_vouch_when_one_is_set(settings, ticket):
    settings.EMAIL_AUTHSERV_ID = "mx.tierdesk.local"
    values = {"reference": ticket.reference, "in_reply_to": "<x@y>", "references": "<x@y>",
              "to": "support@tierdesk.local"}  # fmt: skip

    def with_results(results: str, nonce: str) -> bytes:
        raw = eml("gmail_reply.eml", **values).replace(b"gmail-reply-1b", nonce.encode())
        return f"Authentication-Results: {results}\r\n".encode() + raw

    forged = ingest(
        with_results(
            "mx.tierdesk.local; spf=fail smtp.mailfrom=example.com; dmarc=fail header.from=example.com",
            "a1",
        )
    )
    assert forged.outcome == Outcome.CREATED
    claimed = ingest(with_results("evil.example; dmarc=pass header.from=example.com", "a2"))
    assert claimed.outcome == Outcome.CREATED  # another hop's header proves nothing
    real = ingest(
        with_results(
            "mx.tierdesk.local; dkim=pass header.d=example.com; dmarc=pass header.from=example.com",
            "a3",
        )
    )
    assert real.outcome == Outcome.CUSTOMER_REPLY and real.ticket_reference == ticket.reference


def test_the_requester_may_reply_by_subject_reference(ticket):
    values = {"reference": ticket.reference, "in_reply_to": "<x@y>", "references": "<x@y>",
              "to": "support@tierdesk.local"}  # fmt: skip
    result = ingest(eml("gmail_reply.eml", **values))
    assert result.outcome == Outcome.CUSTOMER_REPLY and result.ticket_reference == ticket.reference


def test_a_reply_to_a_closed_ticket_opens_a_new_one_that_says_so(ticket, agent1):
    from tickets.services import ticket_close

    ticket_resolve(ticket=ticket, actor=agent1, resolution="Done.")
    ticket_close(ticket=ticket, actor=None)
    result = ingest(eml("gmail_reply.eml", **thread_of(ticket)))
    assert result.outcome == Outcome.CREATED
    new = Ticket.objects.get(reference=result.ticket_reference)
    assert new.subject == f"[{ticket.reference}] Cannot log in"
    assert new.events.get(kind=Kind.CREATED).data["follows"] == ticket.reference


def test_a_sender_over_its_rate_limit_is_quarantined_not_lost(settings, policies, category):
    settings.EMAIL_INBOUND_LIMIT_PER_SENDER = 2
    outcomes = [
        ingest(eml("html_only.eml").replace(b"html-only.3f9a", f"n{i}".encode())).outcome
        for i in range(3)
    ]
    assert outcomes == [Outcome.CREATED, Outcome.CREATED, Outcome.QUARANTINED]
    row = QuarantinedMessage.objects.get()
    assert row.reason == QuarantinedMessage.Reason.RATE_LIMITED
    # A manager's retry posts it, whatever the limit says.
    assert quarantine_retry(quarantined=row).outcome == Outcome.CREATED
    row.refresh_from_db()
    assert row.released_at is not None and Ticket.objects.count() == 3


def test_without_a_category_the_message_waits_in_quarantine_until_retried(db, policies):
    result = ingest(eml("html_only.eml"))
    row = QuarantinedMessage.objects.get(pk=result.quarantine_id)
    assert row.reason == QuarantinedMessage.Reason.NO_CATEGORY
    assert quarantine_retry(quarantined=row).outcome == Outcome.QUARANTINED
    assert QuarantinedMessage.objects.count() == 1  # the same row, retried
    CategoryFactory(slug="general", entry_tier=1)
    retried = quarantine_retry(quarantined=row)
    assert retried.outcome == Outcome.CREATED
    assert InboundMessage.objects.get().outcome == Outcome.CREATED

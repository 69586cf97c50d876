"""The HTTP endpoint (raw message, shared secret) and ``manage.py ingest_email``."""

from __future__ import annotations

import io
import sys

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from emailchannel.models import InboundMessage, QuarantinedMessage
from tickets.models import Ticket

from .conftest import FIXTURES, eml

pytestmark = pytest.mark.django_db
URL = "/email/inbound/"


@pytest.fixture
def secret(settings):
    settings.EMAIL_WEBHOOK_SECRET = "s3cret-of-the-mta-pipe"
    return settings.EMAIL_WEBHOOK_SECRET


def post(client, raw: bytes, **headers):
    return client.post(URL, data=raw, content_type="message/rfc822", headers=headers)


def test_the_endpoint_is_off_without_a_secret(client, settings):
    settings.EMAIL_WEBHOOK_SECRET = ""
    assert reverse("emailchannel:inbound") == URL
    assert post(client, eml("html_only.eml"), x_tierdesk_secret="anything").status_code == 404


def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_kept(
    client, secret, policies, category
):
    assert post(client, eml("html_only.eml")).status_code == 401
    response = post(client, eml("html_only.eml"), authorization="Bearer wrong")
    assert response.status_code == 401 and response.json() == {"detail": "Wrong or missing secret."}
    assert not InboundMessage.objects.exists() and not Ticket.objects.exists()


def test_a_raw_message_opens_a_ticket_and_a_resend_is_a_duplicate(
    client, secret, policies, category
):
    response = post(client, eml("html_only.eml"), x_tierdesk_secret=secret)
    assert response.status_code == 202
    body = response.json()
    assert body["outcome"] == "created" and body["duplicate"] is False
    assert (
        Ticket.objects.get(reference=body["ticket"]).subject
        == "Printer on floor 3 prints blank pages"
    )
    again = post(client, eml("html_only.eml"), authorization=f"Bearer {secret}")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert Ticket.objects.count() == 1


def test_broken_mime_is_accepted_into_quarantine_not_a_500(client, secret):
    response = post(client, eml("broken_mime.eml"), x_tierdesk_secret=secret)
    assert response.status_code == 202
    assert response.json()["outcome"] == "quarantined"
    assert QuarantinedMessage.objects.count() == 1


def test_too_large_and_empty_bodies_get_clear_4xx(client, secret, settings):
    settings.EMAIL_INBOUND_MAX_BYTES = 2000
    too_big = post(client, b"X" * 3000, x_tierdesk_secret=secret)
    assert too_big.status_code == 413 and "larger than 2000 bytes" in too_big.json()["detail"]
    empty = post(client, b"  ", x_tierdesk_secret=secret)
    assert empty.status_code == 400
    assert client.get(URL, headers={"x_tierdesk_secret": secret}).status_code == 405
    assert not InboundMessage.objects.exists()


def test_the_endpoint_reads_messages_larger_than_the_form_upload_limit(
    client, secret, settings, policies, category
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000  # forms; a message is not a form
    raw = eml("gmail_new_ticket.eml")
    assert len(raw) > 1000
    assert post(client, raw, x_tierdesk_secret=secret).status_code == 202


def test_the_command_reads_a_message_from_stdin(policies, category, monkeypatch):
    raw = eml("latin1_subject.eml")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    out = io.StringIO()
    call_command("ingest_email", stdout=out)
    ticket = Ticket.objects.get()
    assert out.getvalue().strip() == f"created: {ticket.reference}"
    assert ticket.subject == "Imprimante en panne à l'accueil"
    assert InboundMessage.objects.get().source == InboundMessage.Source.COMMAND


def test_the_command_reports_quarantine_and_duplicates(policies, category):
    out = io.StringIO()
    call_command("ingest_email", file=str(FIXTURES / "broken_mime.eml"), stdout=out)
    assert out.getvalue().startswith("quarantined: quarantine #")
    out = io.StringIO()
    call_command("ingest_email", file=str(FIXTURES / "broken_mime.eml"), stdout=out)
    assert out.getvalue().startswith("quarantined (duplicate)")


def test_the_command_says_what_is_wrong_with_its_input(monkeypatch, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("ingest_email", file=str(tmp_path / "missing.eml"))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    with pytest.raises(CommandError, match="No message on standard input"):
        call_command("ingest_email")

"""Tracking tokens (unguessable, constant-time) and uploads (checked, renamed, served
as downloads)."""

from __future__ import annotations

import math
import string
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.test import Client

from tickets import selectors
from tickets.models import new_tracking_token
from tickets.services.attachments import (
    AttachmentError,
    attachment_add,
    clean_filename,
    validate_upload,
    validate_uploads,
)

URLSAFE = set(string.ascii_letters + string.digits + "-_")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_tracking_tokens_carry_at_least_128_random_bits():
    tokens = {new_tracking_token() for _ in range(2000)}
    assert len(tokens) == 2000
    for token in tokens:
        assert set(token) <= URLSAFE
        assert len(token) * math.log2(64) >= 128


@pytest.mark.django_db
def test_token_lookup_compares_in_constant_time(make_ticket, monkeypatch):
    ticket = make_ticket()
    seen = []
    real = selectors.secrets.compare_digest

    def spy(a, b):
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(selectors.secrets, "compare_digest", spy)
    assert selectors.ticket_get_by_token(token=ticket.tracking_token) == ticket
    assert seen == [(ticket.tracking_token, ticket.tracking_token)]


@pytest.mark.django_db
def test_near_miss_tokens_find_nothing(make_ticket):
    ticket = make_ticket()
    token = ticket.tracking_token
    for guess in (
        token[:-1],
        token + "A",
        token.swapcase(),
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        ticket.reference,
        str(ticket.pk),
        "",
        "x" * 65,
        f"{token[:20]}%",
        "%",
    ):
        with pytest.raises(Http404):
            selectors.ticket_get_by_token(token=guess)


@pytest.mark.django_db
def test_tracking_page_shows_no_internal_notes(make_ticket, agent1):
    from tickets.services import core

    ticket = make_ticket()
    core.ticket_add_note(ticket=ticket, agent=agent1, body="Internal: customer password is hunter2")
    page = Client().get(ticket.get_tracking_url()).content.decode()
    assert "hunter2" not in page


# --------------------------------------------------------------------------- uploads


def _file(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


@pytest.mark.parametrize(
    ("name", "clean"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\system32\\evil.txt", "evil.txt"),
        ("/absolute/path/report.pdf", "report.pdf"),
        ("invoice\u202efdp.txt", "invoicefdp.txt"),
        ("zero\u200bwidth.txt", "zerowidth.txt"),
        ('a"b\r\nSet-Cookie: x=1.txt', 'a"bSet-Cookie: x=1.txt'),
        ("....", "file"),
        ("n" * 400 + ".txt", "n" * 147 + ".txt"),
    ],
)
def test_file_names_lose_paths_and_control_characters(name, clean):
    assert clean_filename(name) == clean


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("shell.php", b"<?php system($_GET['c']);", "not accepted"),
        ("page.html", b"<html></html>", "not accepted"),
        ("image.svg", b"<svg onload=alert(1)>", "not accepted"),
        ("invoice\u202efdp.exe", b"MZ\x90\x00", "not accepted"),
        ("photo.png", b"<html><script>alert(1)</script>", "does not look like a .png"),
        ("report.pdf", b"MZ\x90\x00 windows exe", "does not look like a .pdf"),
        ("notes.txt", b"<!DOCTYPE html><script>alert(1)</script>", "plain text"),
        ("notes.txt", b"  <svg onload=alert(1)>", "plain text"),
        ("notes.log", b"binary\x00\x01\x02", "plain text"),
        ("empty.txt", b"", "is empty"),
    ],
)
def test_uploads_are_checked_by_extension_and_content(name, content, message):
    with pytest.raises(AttachmentError) as excinfo:
        validate_upload(_file(name, content))
    assert message in excinfo.value.message
    assert excinfo.value.field == "attachments"


def test_uploads_are_limited_in_size_and_number(settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    with pytest.raises(AttachmentError, match="larger than"):
        validate_upload(_file("big.txt", b"a" * 1025))
    settings.ATTACHMENT_MAX_FILES = 2
    with pytest.raises(AttachmentError, match="at most 2 files"):
        validate_uploads([_file(f"{i}.txt", b"ok") for i in range(3)])


@pytest.mark.django_db
def test_stored_under_a_random_name_and_served_as_a_download(make_ticket, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    ticket = make_ticket()
    attachment = attachment_add(ticket=ticket, upload=_file("../../etc/passwd.txt", b"root:x:0:0"))
    other = attachment_add(ticket=ticket, upload=_file("../../etc/passwd.txt", b"second"))
    stored = Path(attachment.file.path).resolve()
    assert stored.is_relative_to(tmp_path.resolve())
    assert "passwd" not in stored.name and "passwd" not in str(other.file.name)
    assert attachment.file.name != other.file.name
    assert attachment.original_name == "passwd.txt"

    response = Client().get(f"/tickets/track/{ticket.tracking_token}/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="passwd.txt"' in response["Content-Disposition"]
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == b"root:x:0:0"


@pytest.mark.django_db
def test_header_injection_through_a_file_name_is_impossible(make_ticket, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    ticket = make_ticket()
    attachment = attachment_add(
        ticket=ticket, upload=_file('x"\r\nSet-Cookie: pwned=1;\u202e.txt', b"hello")
    )
    response = Client().get(f"/tickets/track/{ticket.tracking_token}/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert "\n" not in response["Content-Disposition"]
    assert "pwned" not in response.cookies


@pytest.mark.django_db
def test_attachments_are_reachable_only_through_their_own_ticket(
    make_ticket, settings, tmp_path, customer
):
    settings.MEDIA_ROOT = tmp_path
    mine = make_ticket(requester=customer)
    theirs = make_ticket()
    secret = attachment_add(ticket=theirs, upload=_file("secret.txt", b"not yours"))
    internal = attachment_add(ticket=mine, upload=_file("internal.txt", b"staff"), is_public=False)
    anonymous = Client()
    # Someone else's attachment through my tracking link, or by id: not found.
    assert (
        anonymous.get(f"/tickets/track/{mine.tracking_token}/attachments/{secret.pk}/").status_code
        == 404
    )
    assert (
        anonymous.get(
            f"/tickets/track/{mine.tracking_token}/attachments/{internal.pk}/"
        ).status_code
        == 404
    )
    assert anonymous.get(f"/attachments/{secret.pk}/").status_code in (302, 404)
    logged_in = Client()
    logged_in.force_login(customer)
    assert logged_in.get(f"/attachments/{secret.pk}/").status_code == 404
    assert logged_in.get(f"/attachments/{internal.pk}/").status_code == 404


def _ticket_form(category, **extra) -> dict:
    return {
        "name": "Pat",
        "email": "pat@example.com",
        "category": category.pk,
        "subject": "Screenshot of the error",
        "description": "The error dialog is attached to this ticket.",
        "urgency": "medium",
        "impact": "low",
        **extra,
    }


@pytest.mark.django_db
def test_uploads_through_the_ticket_form_are_renamed_and_served_as_downloads(
    policies, category, settings, tmp_path
):
    from tickets.models import Attachment, Ticket

    settings.MEDIA_ROOT = tmp_path
    client = Client(raise_request_exception=False)
    evil = SimpleUploadedFile("../../etc/passwd.txt", b"root:x:0:0:root:/root:/bin/bash\n")
    image = SimpleUploadedFile("..\\..\\shot\u202egnp.png", PNG, content_type="image/png")
    response = client.post("/tickets/new/", _ticket_form(category, attachments=[evil, image]))
    assert response.status_code == 302, response.content.decode()[:2000]
    ticket = Ticket.objects.get()
    names = sorted(a.original_name for a in Attachment.objects.filter(ticket=ticket))
    assert names == ["passwd.txt", "shotgnp.png"]
    for attachment in Attachment.objects.filter(ticket=ticket):
        stored = Path(attachment.file.path).resolve()
        assert stored.is_relative_to(tmp_path.resolve())
        assert "passwd" not in stored.name and "shot" not in stored.name
        download = client.get(
            f"/tickets/track/{ticket.tracking_token}/attachments/{attachment.pk}/"
        )
        assert download.status_code == 200
        assert download["Content-Disposition"].startswith("attachment;")
        assert download["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("payload.html", b"<script>alert(1)</script>"),
        ("photo.png", b"<svg onload=alert(1)>"),
        ("notes.txt", b"<!doctype html><script>alert(1)</script>"),
        ("setup.exe", b"MZ\x90\x00"),
    ],
)
def test_bad_uploads_through_the_ticket_form_are_refused_with_a_message(
    policies, category, settings, tmp_path, name, content
):
    from tickets.models import Ticket

    settings.MEDIA_ROOT = tmp_path
    client = Client(raise_request_exception=False)
    upload = SimpleUploadedFile(name, content)
    response = client.post("/tickets/new/", _ticket_form(category, attachments=[upload]))
    assert response.status_code == 400
    assert name in response.content.decode()
    assert not Ticket.objects.exists()
    assert not any(p.is_file() for p in tmp_path.rglob("*"))  # nothing left on disk

"""Upload checks (size, type, content) and safe storage names."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tickets.services.attachments import (
    AttachmentError,
    attachment_add,
    clean_filename,
    validate_upload,
    validate_uploads,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def up(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


@pytest.mark.parametrize(
    ("name", "content", "expected_type"),
    [
        ("shot.PNG", PNG, "image/png"),
        ("scan.pdf", b"%PDF-1.7\n", "application/pdf"),
        ("boot.log", b"kernel: ok\n", "text/plain"),
        (
            "report.docx",
            b"PK\x03\x04rest",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
    ],
)
def test_accepted_files(name, content, expected_type):
    assert validate_upload(up(name, content))[1] == expected_type


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.exe", b"MZ", "not accepted"),
        ("x.svg", b"<svg/>", "not accepted"),
        ("noext", b"data", "not accepted"),
        ("x.png", b"", "is empty"),
        ("x.png", b"GIF89a", "does not look like a .png"),
        ("x.pdf", b"<html>", "does not look like a .pdf"),
        ("x.txt", b"  <!DOCTYPE html><p>", "plain text"),
        ("x.log", b"bin\x00ary", "plain text"),
    ],
)
def test_refused_files(name, content, message):
    with pytest.raises(AttachmentError, match=message) as info:
        validate_upload(up(name, content))
    assert info.value.field == "attachments"


def test_size_and_count_limits(settings):
    settings.ATTACHMENT_MAX_BYTES = 50
    with pytest.raises(AttachmentError, match="larger than"):
        validate_upload(up("big.png", PNG + b"\x00" * 50))
    settings.ATTACHMENT_MAX_BYTES = 10_000
    settings.ATTACHMENT_MAX_FILES = 1
    with pytest.raises(AttachmentError, match="at most 1"):
        validate_uploads([up("a.png", PNG), up("b.png", PNG)])


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\me\\shot.png", "shot.png"),
        ("evil\u202egnp.exe.png", "evilgnp.exe.png"),  # bidi override removed
        ("line\nbreak.png", "linebreak.png"),
        ("...", "file"),
    ],
)
def test_clean_filename(raw, clean):
    assert clean_filename(raw) == clean


@pytest.mark.django_db
def test_stored_under_a_random_name_with_the_display_name_kept(make_ticket, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    ticket = make_ticket()
    attachment = attachment_add(ticket=ticket, upload=up("../My Screenshot.png", PNG))
    assert attachment.original_name == "My Screenshot.png"
    assert (
        attachment.file.name.startswith("attachments/") and "Screenshot" not in attachment.file.name
    )
    assert (tmp_path / attachment.file.name).read_bytes() == PNG
    assert attachment.size == len(PNG) and attachment.content_type == "image/png"

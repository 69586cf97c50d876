"""Attachments: checked by size, extension and content, stored under random names,
served only as downloads to people allowed to read the ticket."""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from helpdesk.exceptions import DomainError

from ..models import Attachment, Ticket, TicketEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

# Magic numbers of the types we accept; text-like types must not look like HTML/SVG.
MAGIC = {
    "png": [b"\x89PNG\r\n\x1a\n"],
    "jpg": [b"\xff\xd8\xff"],
    "jpeg": [b"\xff\xd8\xff"],
    "gif": [b"GIF87a", b"GIF89a"],
    "webp": [b"RIFF"],
    "pdf": [b"%PDF-"],
    "docx": [b"PK\x03\x04"],
    "xlsx": [b"PK\x03\x04"],
    "pptx": [b"PK\x03\x04"],
    "odt": [b"PK\x03\x04"],
    "ods": [b"PK\x03\x04"],
    "zip": [b"PK\x03\x04"],
}
TEXT_TYPES = {"txt", "log", "csv"}
CONTENT_TYPES = {
    "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
    "webp": "image/webp", "pdf": "application/pdf", "txt": "text/plain", "log": "text/plain",
    "csv": "text/csv", "zip": "application/zip",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}  # fmt: skip
HTML_SNIFF = (b"<!doctype", b"<html", b"<script", b"<svg", b"<?xml", b"<body", b"<iframe")


class AttachmentError(DomainError):
    pass


def clean_filename(name: str) -> str:
    """Keep a display name only: no path, no control or bidi characters, bounded length."""
    name = PurePosixPath((name or "").replace("\\", "/")).name
    name = "".join(
        ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C"
    )
    name = name.strip(" .") or "file"
    stem, dot, ext = name.rpartition(".")
    if dot and len(ext) <= 10:
        return f"{stem[: 150 - len(ext)]}.{ext}"
    return name[:150]


def validate_upload(upload: UploadedFile) -> tuple[str, str]:
    """Return (clean name, content type) or raise ``AttachmentError`` with a clear message."""
    name = clean_filename(upload.name or "")
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    allowed = [e.lower() for e in settings.ATTACHMENT_ALLOWED_EXTENSIONS]
    if ext not in allowed:
        raise AttachmentError(
            _("%(name)s: files of this type are not accepted. Allowed: %(types)s.")
            % {"name": name, "types": ", ".join(allowed)},
            field="attachments",
        )
    if upload.size is None or upload.size > settings.ATTACHMENT_MAX_BYTES:
        raise AttachmentError(
            _("%(name)s is larger than %(mb)s MB.")
            % {"name": name, "mb": settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)},
            field="attachments",
        )
    if upload.size == 0:
        raise AttachmentError(_("%(name)s is empty.") % {"name": name}, field="attachments")
    upload.seek(0)
    head = upload.read(512)
    upload.seek(0)
    if ext in TEXT_TYPES:
        lowered = head.lstrip().lower()
        if b"\x00" in head or lowered.startswith(HTML_SNIFF):
            raise AttachmentError(
                _("%(name)s does not look like a plain text file.") % {"name": name},
                field="attachments",
            )
    elif not any(head.startswith(m) for m in MAGIC.get(ext, [])):
        raise AttachmentError(
            _("%(name)s does not look like a .%(ext)s file.") % {"name": name, "ext": ext},
            field="attachments",
        )
    return name, CONTENT_TYPES.get(ext, "application/octet-stream")


def validate_uploads(uploads: list[UploadedFile]) -> list[tuple[UploadedFile, str, str]]:
    if len(uploads) > settings.ATTACHMENT_MAX_FILES:
        raise AttachmentError(
            _("Attach at most %(n)s files.") % {"n": settings.ATTACHMENT_MAX_FILES},
            field="attachments",
        )
    return [(u, *validate_upload(u)) for u in uploads]


def attachment_add(
    *,
    ticket: Ticket,
    upload: UploadedFile,
    event: TicketEvent | None = None,
    uploaded_by: AbstractBaseUser | None = None,
    uploaded_by_name: str = "",
    is_public: bool = True,
    checked: tuple[str, str] | None = None,
) -> Attachment:
    """Store one upload under a random name. Call inside the service's transaction,
    after validating all uploads first (nothing half-written); pass ``checked``, the
    (name, content type) that ``validate_uploads`` returned for it, so that it is not
    read and checked again. Without it the upload is validated here."""
    name, content_type = checked or validate_upload(upload)
    attachment = Attachment(
        ticket=ticket,
        event=event,
        original_name=name,
        content_type=content_type,
        size=upload.size,
        uploaded_by=uploaded_by,
        uploaded_by_name=uploaded_by_name,
        is_public=is_public,
    )
    attachment.file.save(name, upload, save=False)
    attachment.save()
    return attachment

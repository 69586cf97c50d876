"""Fixtures of the e-mail channel tests: real .eml files (fixtures/), with the
values only a running desk knows (our signed Message-IDs and reply addresses, the
ticket reference) filled into their ``{{PLACEHOLDERS}}``."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from helpdesk import mailthread

FIXTURES = Path(__file__).parent / "fixtures"


def eml(name: str, **values: str) -> bytes:
    raw = (FIXTURES / name).read_bytes()
    values.setdefault("nonce", uuid.uuid4().hex[:12])
    for key, value in values.items():
        raw = raw.replace(b"{{" + key.upper().encode() + b"}}", value.encode())
    return raw


def thread_of(ticket, audience: str = "c", event_id: int = 1) -> dict[str, str]:
    """What a reply to our notification about ``ticket`` carries back."""
    token = mailthread.token_for(audience, ticket.pk)
    msgid = mailthread.message_id(token, event_id=event_id)
    return {
        "in_reply_to": msgid,
        "references": f"{mailthread.message_id(token)} {msgid}",
        "reference": ticket.reference,
        "to": "support@tierdesk.local",
    }


@pytest.fixture(autouse=True)
def _mail_settings(settings, tmp_path):
    settings.EMAIL_REPLY_ADDRESS = "support+{token}@tierdesk.local"
    settings.DEFAULT_FROM_EMAIL = "Tierdesk <support@tierdesk.local>"
    settings.EMAIL_AUTHSERV_ID = ""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }


@pytest.fixture
def ticket(make_ticket):
    return make_ticket(requester_email="pat@example.com", requester_name="Pat Customer")

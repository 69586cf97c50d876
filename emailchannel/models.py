"""What the e-mail channel remembers: every message it took in (so the same
``Message-ID`` twice makes one event), the messages it could not or would not post
(quarantine, with the raw file), and how far it has read each IMAP mailbox."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class InboundMessage(models.Model):
    """One message taken in, whatever became of it. ``key`` is the SHA-256 of its
    ``Message-ID`` (of its bytes when it has none): the unique index makes a second
    delivery — IMAP after a crash, the webhook retrying, both doors at once — a no-op."""

    class Source(models.TextChoices):
        IMAP = "imap", _("IMAP mailbox")
        HTTP = "http", _("HTTP endpoint")
        COMMAND = "command", _("manage.py ingest_email")

    class Outcome(models.TextChoices):
        CREATED = "created", _("New ticket")
        CUSTOMER_REPLY = "customer_reply", _("Customer reply")
        AGENT_REPLY = "agent_reply", _("Agent reply")
        AGENT_NOTE = "agent_note", _("Agent note")
        VENDOR_UPDATE = "vendor_update", _("Vendor update")
        AUTO_REPLY = "auto_reply", _("Automatic reply (not answered)")
        BOUNCE = "bounce", _("Bounce (not answered)")
        OWN = "own", _("Our own mail (not answered)")
        QUARANTINED = "quarantined", _("Quarantined")

    key = models.CharField(max_length=64, unique=True)
    message_id = models.CharField(max_length=998, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    sender = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    ticket = models.ForeignKey(
        "tickets.Ticket",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # partial index in Meta
    )
    event_id = models.BigIntegerField(null=True, blank=True)
    #: When the message reached us (IMAP INTERNALDATE, the HTTP request, the command).
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-processed_at"]
        indexes = [
            models.Index(
                fields=["ticket"], name="inbound_ticket_set", condition=Q(ticket__isnull=False)
            ),
            models.Index(fields=["processed_at"], name="inbound_processed"),
            # A reply that names the customer's own earlier message (routing, step 2).
            models.Index(fields=["message_id"], name="inbound_message_id"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id or self.key[:12]} ({self.outcome})"


def quarantine_upload_to(instance: QuarantinedMessage, filename: str) -> str:
    return f"mail/quarantine/{instance.created_at:%Y/%m}/{filename}"


class QuarantinedMessage(models.Model):
    """A message that was malformed or refused, kept whole for a manager to read,
    download and retry. Never deleted by the channel."""

    class Reason(models.TextChoices):
        MALFORMED = "malformed", _("Malformed message")
        TOO_LARGE = "too_large", _("Too large")
        RATE_LIMITED = "rate_limited", _("Sender over its rate limit")
        NO_SENDER = "no_sender", _("No usable sender address")
        REFUSED = "refused", _("Refused by the help desk")
        NO_CATEGORY = "no_category", _("No category for new tickets")
        ERROR = "error", _("Processing error")

    inbound = models.OneToOneField(
        InboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="quarantine"
    )
    source = models.CharField(max_length=10, choices=InboundMessage.Source.choices)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    detail = models.CharField(max_length=500, blank=True)
    sender = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    message_id = models.CharField(max_length=998, blank=True)
    size = models.PositiveIntegerField()
    raw = models.FileField(upload_to=quarantine_upload_to, max_length=200)
    created_at = models.DateTimeField()
    retried_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When a retry posted it.")
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["-created_at"],
                name="quarantine_open",
                condition=Q(released_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()}: {self.subject or self.message_id}"


class MailboxState(models.Model):
    """How far an IMAP mailbox has been read: the last UID taken in, valid for one
    ``UIDVALIDITY``. Advanced in the transaction that writes the message's event, so
    a restart neither reads a message twice nor skips one."""

    mailbox = models.CharField(max_length=300, unique=True, help_text=_("host/user/folder"))
    uidvalidity = models.BigIntegerField(default=0)
    last_uid = models.BigIntegerField(default=0)
    polled_at = models.DateTimeField(null=True, blank=True)
    idle_supported = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.mailbox} up to UID {self.last_uid}"

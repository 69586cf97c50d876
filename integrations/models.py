"""Personal API tokens and outgoing webhooks.

A token's secret is shown once and stored only as its SHA-256: a database leak does
not leak usable credentials. A webhook delivery is logged once per attempt, so the
admin shows every retry with its answer.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .scopes import TokenScope


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text=_("What the token is for."))
    #: The first characters of the secret, shown so its owner can tell tokens apart.
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    #: What the token may do (``TokenScope`` values), chosen when it is created.
    scopes = models.JSONField(
        default=list,
        help_text=_("What the token may do: read, tickets:write, kb:write, reports:read."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="apitoken_user_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def scope_labels(self) -> list[str]:
        """The token's scopes in their canonical order."""
        return [scope for scope in TokenScope.values if scope in (self.scopes or ())]

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and not self.is_expired


class WebhookEventType(models.TextChoices):
    TICKET_CREATED = "ticket.created", _("Ticket created")
    TICKET_ESCALATED = "ticket.escalated", _("Ticket escalated (by an agent or a timer)")
    TICKET_RESOLVED = "ticket.resolved", _("Ticket resolved")
    #: Sent only to the webhook an automation rule names, when the rule fires.
    TRIGGER_FIRED = "trigger.fired", _("Automation rule fired (sent by the rule)")


def new_webhook_secret() -> str:
    return secrets.token_hex(32)


class Webhook(models.Model):
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500, help_text=_("http(s) URL that receives a JSON POST."))
    secret = models.CharField(
        max_length=128,
        default=new_webhook_secret,
        help_text=_(
            "HMAC-SHA256 key: receivers recompute X-Tierdesk-Signature over "
            '"<X-Tierdesk-Timestamp>.<raw body>" with it.'
        ),
    )
    events = models.JSONField(
        default=list, help_text=_("Event types sent to this URL (ticket.created, …).")
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One HTTP attempt. Retries of the same event share ``delivery_id``."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    delivery_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    event_type = models.CharField(max_length=32, choices=WebhookEventType.choices)
    ticket_event = models.ForeignKey(
        "tickets.TicketEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attempt = models.PositiveSmallIntegerField(default=1)
    payload = models.JSONField(default=dict)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    succeeded = models.BooleanField(default=False)
    will_retry = models.BooleanField(default=False)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            models.Index(fields=["webhook", "-created_at"], name="delivery_webhook_created"),
            models.Index(
                fields=["created_at"], name="delivery_failed", condition=Q(succeeded=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.webhook} (attempt {self.attempt})"

"""Tags on tickets, manager-defined triggers, and agents' macros.

A tag lives in a link table beside the ticket (not a column of it): the sweep's hot
rows stay as narrow as they are, and a tag filter is one join on ``(tag, ticket)``.
A trigger is "when one of these events is written, and these conditions hold, then
do these actions"; every condition and action is a column, so the form validates
each one and a rule that names a deleted agent or canned response cannot exist.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tiers.models import Priority, TimestampedModel

#: A tag: lower-case letters, digits, ``-`` and ``_``, starting with a letter or digit.
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class Tag(models.Model):
    name = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TicketTag(models.Model):
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="tag_links", db_index=False
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="ticket_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Leads with the ticket: the ticket page reads its tags by this index.
            models.UniqueConstraint(fields=["ticket", "tag"], name="one_link_per_ticket_tag")
        ]
        # The queue's tag filter walks a tag's tickets.
        indexes = [models.Index(fields=["tag", "ticket"], name="tickettag_tag_ticket")]

    def __str__(self) -> str:
        return f"{self.tag_id} on ticket {self.ticket_id}"


class Trigger(TimestampedModel):
    """A rule run after every event of the kinds it names (``automation.engine``)."""

    name = models.CharField(max_length=120, unique=True)
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(
        default=100, help_text=_("Rules run in this order (lowest first), then by name.")
    )
    #: ``TicketEvent.Kind`` values.
    event_kinds = models.JSONField(default=list)

    # Conditions: all that are set must hold.
    categories = models.ManyToManyField("tickets.Category", blank=True, related_name="+")
    priorities = models.JSONField(default=list, blank=True)
    tiers = models.JSONField(default=list, blank=True)
    requester_domain = models.CharField(
        max_length=253,
        blank=True,
        help_text=_("The requester's e-mail domain, e.g. example.com (subdomains match too)."),
    )
    text_contains = models.CharField(
        max_length=200, blank=True, help_text=_("Found in the subject or the description.")
    )
    min_minutes_in_status = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("At least this long in its current status when the event is written."),
    )

    # Actions, in this order.
    set_priority = models.CharField(max_length=10, choices=Priority.choices, blank=True)
    set_category = models.ForeignKey(
        "tickets.Category", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assign_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    add_tag = models.CharField(max_length=40, blank=True)
    canned_reply = models.ForeignKey(
        "tickets.CannedResponse", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    notify_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    webhook = models.ForeignKey(
        "integrations.Webhook", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Macro(TimestampedModel):
    """A named bundle an agent applies in one click: it runs the same services (and
    permission checks, and events) as doing each step by hand."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PENDING_CUSTOMER = "pending_customer", _("Waiting for customer")
        RESOLVED = "resolved", _("Resolved")

    name = models.CharField(max_length=120)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="macros",
        help_text=_("Empty: shared with every agent."),
    )
    reply = models.TextField(max_length=10000, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, blank=True)
    #: Tag names (``TAG_RE``), created on first use.
    tags = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=Q(owner__isnull=True), name="one_shared_macro_per_name"
            ),
            models.UniqueConstraint(fields=["owner", "name"], name="one_macro_per_owner_name"),
        ]

    def __str__(self) -> str:
        return self.name

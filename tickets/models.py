"""Tickets, their categories and their timeline.

Status, tier and assignee change only through ``tickets.services`` (and the
escalation engine in ``tiers.services``), each change written as a ``TicketEvent``.
"""

from __future__ import annotations

import secrets
import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from helpdesk.models import TimestampedModel
from tiers.models import Priority, TierLevel


def new_tracking_token() -> str:
    # 32 random bytes = 256 bits, URL-safe; never derived from the id.
    return secrets.token_urlsafe(32)


class Category(TimestampedModel):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.CharField(max_length=300, blank=True)
    entry_tier = models.PositiveSmallIntegerField(
        choices=TierLevel.choices, default=TierLevel.FRONTLINE
    )
    default_priority = models.CharField(
        max_length=10,
        choices=Priority.choices,
        blank=True,
        help_text=_("Empty: the priority follows the customer's urgency and impact."),
    )
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name


class Ticket(TimestampedModel):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        OPEN = "open", _("Open")
        PENDING_CUSTOMER = "pending_customer", _("Waiting for customer")
        PENDING_VENDOR = "pending_vendor", _("Waiting for vendor")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    ACTIVE_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING_CUSTOMER, Status.PENDING_VENDOR)
    #: Statuses in which the tier budget clock runs.
    CLOCK_RUNNING_STATUSES = (Status.NEW, Status.OPEN)
    DONE_STATUSES = (Status.RESOLVED, Status.CLOSED)

    # NULL until the insert gives the id it is derived from (unique allows many NULLs).
    reference = models.CharField(max_length=20, unique=True, null=True, editable=False)  # noqa: DJ001
    tracking_token = models.CharField(
        max_length=64, unique=True, default=new_tracking_token, editable=False
    )
    submission_key = models.CharField(
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text=_(
            "Idempotency key of the submitting form/API call: a resubmit finds this ticket."
        ),
    )

    subject = models.CharField(max_length=200)
    description = models.TextField(max_length=20000)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="tickets")

    # No single-column index: ``ticket_requester_created`` leads with it (see Meta).
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requested_tickets",
        db_index=False,
    )
    requester_name = models.CharField(max_length=120)
    requester_email = models.EmailField()

    tier = models.PositiveSmallIntegerField(choices=TierLevel.choices, default=TierLevel.FRONTLINE)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    # No single-column index: ``ticket_assignee_status`` leads with it (see Meta).
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
        db_index=False,
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_tickets",
        db_index=False,  # partial index in Meta
        help_text=_("Accountable staff member while a vendor works the ticket (Tier 4)."),
    )

    # Tier budget clock. ``escalate_at`` is NULL whenever the clock is not running
    # (paused, with a vendor, resolved), so the sweep's index holds only live tickets.
    escalate_at = models.DateTimeField(null=True, blank=True)
    escalation_warn_at = models.DateTimeField(null=True, blank=True)
    tier_entered_at = models.DateTimeField(null=True, blank=True)
    tier_budget = models.DurationField(null=True, blank=True)
    clock_paused_at = models.DateTimeField(null=True, blank=True)
    budget_remaining_at_pause = models.DurationField(null=True, blank=True)
    warn_remaining_at_pause = models.DurationField(null=True, blank=True)
    paused_business_time = models.DurationField(null=True, blank=True)

    # Customer SLA clock, end to end across tiers.
    first_response_due = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    sla_warn_at = models.DateTimeField(null=True, blank=True)
    sla_breached_at = models.DateTimeField(null=True, blank=True)
    # Waiting on the customer since (NULL otherwise): the resolution target pauses, and
    # the lifecycle sweep reminds and finally resolves (tickets/services/lifecycle.py).
    pending_since = models.DateTimeField(null=True, blank=True)
    # A major incident: its public updates reach the requesters of its child tickets
    # (tickets/services/relations.py).
    is_major_incident = models.BooleanField(default=False)
    sla_paused_time = models.DurationField(null=True, blank=True)

    escalation_count = models.PositiveSmallIntegerField(default=0)
    reopen_count = models.PositiveSmallIntegerField(default=0)
    customer_round_trips = models.PositiveSmallIntegerField(default=0)
    first_contact_resolution = models.BooleanField(default=False)

    resolution = models.TextField(blank=True, max_length=20000)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # partial index in Meta
    )
    resolved_tier = models.PositiveSmallIntegerField(
        choices=TierLevel.choices, null=True, blank=True
    )
    resolved_article = models.ForeignKey(
        "knowledgebase.Article",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resolved_tickets",
        db_index=False,  # partial index in Meta
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_tickets",
        db_index=False,  # partial index in Meta
    )

    class Meta:
        ordering = ["-created_at"]
        # Every index here costs each promotion, reply and status change an entry (a
        # tier move changes indexed columns, so it is never a HOT update): keep only
        # what a query uses. Gone (migration 0008): ``ticket_queue`` and
        # ``ticket_escalate_at_live`` (the live partial indexes below serve the queue
        # and the sweep; only running tickets have a deadline) and the single-column
        # indexes on requester/assignee (composite indexes below lead with them);
        # ``ticket_resolved`` became partial (``ticket_resolved_set``).
        # The FKs that are NULL on a live ticket get partial indexes, so the rows the
        # sweep writes do not enter them; deleting a user or an article still finds
        # its tickets by index.
        indexes = [
            # The agent queue's keyset scans (tickets.queue): live tickets by deadline,
            # per tier and across tiers; partial, so closed history does not bloat them.
            models.Index(
                fields=["tier", "escalate_at", "id"],
                name="ticket_queue_live",
                condition=Q(status__in=["new", "open", "pending_customer", "pending_vendor"]),
            ),
            models.Index(
                fields=["escalate_at", "id"],
                name="ticket_live_deadline",
                condition=Q(status__in=["new", "open", "pending_customer", "pending_vendor"]),
            ),
            # The agent queue's default view ("unassigned or mine") as two ordered
            # scans: the planner cannot estimate "live and unassigned" (correlated),
            # and an index whose predicate holds it needs no estimate (tickets/queue.py).
            models.Index(
                fields=["tier", "escalate_at", "id"],
                name="ticket_queue_unassigned",
                condition=Q(
                    status__in=["new", "open", "pending_customer", "pending_vendor"],
                    assignee__isnull=True,
                ),
            ),
            models.Index(
                fields=["assignee", "tier", "escalate_at", "id"],
                name="ticket_queue_assigned",
                condition=Q(
                    status__in=["new", "open", "pending_customer", "pending_vendor"],
                    assignee__isnull=False,
                ),
            ),
            models.Index(
                fields=["escalation_warn_at"],
                name="ticket_warn_at_live",
                condition=Q(escalation_warn_at__isnull=False),
            ),
            # The lifecycle sweep: waits to remind or resolve, resolutions to close.
            models.Index(
                fields=["pending_since"],
                name="ticket_pending_since",
                condition=Q(pending_since__isnull=False),
            ),
            models.Index(
                fields=["resolved_at"],
                name="ticket_resolved_to_close",
                condition=Q(status="resolved"),
            ),
            models.Index(
                fields=["sla_warn_at"],
                name="ticket_sla_warn_live",
                condition=Q(sla_warn_at__isnull=False),
            ),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_status"),
            models.Index(fields=["requester", "-created_at"], name="ticket_requester_created"),
            models.Index(fields=["requester_email", "-created_at"], name="ticket_email_created"),
            models.Index(fields=["status", "created_at"], name="ticket_status_created"),
            models.Index(fields=["created_at"], name="ticket_created"),
            # Partial: a live ticket (all the sweep writes) has no resolved_at; any
            # range on resolved_at implies NOT NULL, so queries can still use it.
            models.Index(
                fields=["resolved_at"],
                name="ticket_resolved_set",
                condition=Q(resolved_at__isnull=False),
            ),
            models.Index(
                fields=["owner"], name="ticket_owner_set", condition=Q(owner__isnull=False)
            ),
            models.Index(
                fields=["resolved_by"],
                name="ticket_resolved_by_set",
                condition=Q(resolved_by__isnull=False),
            ),
            models.Index(
                fields=["resolved_article"],
                name="ticket_resolved_article_set",
                condition=Q(resolved_article__isnull=False),
            ),
            models.Index(
                fields=["merged_into"],
                name="ticket_merged_into_set",
                condition=Q(merged_into__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(tier__gte=1, tier__lte=4), name="ticket_tier_range"),
            models.CheckConstraint(
                condition=Q(status__in=["resolved", "closed"]) | Q(resolved_at__isnull=True),
                name="ticket_resolved_at_only_when_done",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference or '(new)'}: {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("tickets:agent-ticket", kwargs={"reference": self.reference})

    def get_tracking_url(self) -> str:
        return reverse("tickets:track", kwargs={"token": self.tracking_token})

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @staticmethod
    def reference_for(pk: int) -> str:
        return f"TD-{pk:06d}"


class TicketSearch(models.Model):
    """The ticket's searchable text, one row per ticket, for the trigram indexes.

    The contain-searches (queue, API, KB gaps) need trigram GIN indexes on the subject,
    the description and the requester's e-mail. On ``tickets_ticket`` itself every new
    row version — each promotion, assignment, status change, none of which touches this
    text — paid entries in all three (the biggest single cost of a sweep). Here a row
    changes only when its text does. A trigger (migration 0009) writes it on every
    insert and on every update that changes the text, whatever wrote the ticket
    (services, ``bulk_create``, raw SQL); filter through :func:`ticket_text_contains`.
    """

    ticket = models.OneToOneField(
        Ticket, primary_key=True, on_delete=models.CASCADE, related_name="search_text"
    )
    subject = models.CharField(max_length=200)
    description = models.TextField()
    requester_email = models.CharField(max_length=254)

    def __str__(self) -> str:
        return f"search text of ticket {self.ticket_id}"


#: The ticket columns mirrored in :class:`TicketSearch`.
SEARCHED_TEXT = ("subject", "description", "requester_email")


def ticket_text_contains(field: str, text: str) -> Q:
    """``Q`` for tickets whose ``field`` (one of :data:`SEARCHED_TEXT`) contains
    ``text``, case-insensitively, through the trigram-indexed side table."""
    if field not in SEARCHED_TEXT:
        raise ValueError(f"{field!r} is not a searched ticket column")
    return Q(**{f"search_text__{field}__icontains": text})


class SavedView(models.Model):
    """A named set of queue filters: an agent's own, or shared with every agent
    (``owner`` empty). ``query`` is the queue's normalised query string."""

    name = models.CharField(max_length=80)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
        related_name="saved_views",
    )  # fmt: skip
    query = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="savedview_name_per_owner"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(owner__isnull=True), name="savedview_shared_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TicketLink(models.Model):
    """Two tickets that belong together. ``child``: ``source`` is part of the incident
    ``target`` (one parent per child); ``duplicate``: ``source`` repeats ``target``;
    ``related``: worth reading together."""

    class Kind(models.TextChoices):
        RELATED = "related", _("Related to")
        DUPLICATE = "duplicate", _("Duplicate of")
        CHILD = "child", _("Part of the incident")

    source = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_out")
    target = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_in")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "target"], name="ticketlink_once"),
            models.UniqueConstraint(
                fields=["source"], condition=Q(kind="child"), name="ticketlink_one_parent"
            ),
            models.CheckConstraint(
                condition=~Q(source=models.F("target")), name="ticketlink_not_itself"
            ),
        ]
        indexes = [models.Index(fields=["target", "kind"], name="ticketlink_target_kind")]

    def __str__(self) -> str:
        return f"{self.source_id} {self.kind} {self.target_id}"


class TicketEvent(models.Model):
    """One entry of a ticket's timeline. Never edited after it is written."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        REPLY = "reply", _("Public reply")
        CUSTOMER_REPLY = "customer_reply", _("Customer reply")
        NOTE = "note", _("Internal note")
        STATUS = "status", _("Status changed")
        PRIORITY = "priority", _("Priority changed")
        ASSIGNED = "assigned", _("Assigned")
        ESCALATED = "escalated", _("Escalated")
        PROMOTED = "promoted", _("Escalated by timer")
        DEESCALATED = "deescalated", _("De-escalated")
        BOUNCED = "bounced", _("Hand-off bounced back")
        AVOIDABLE = "avoidable", _("Marked avoidable")
        VENDOR_HANDOFF = "vendor_handoff", _("Handed off to vendor")
        VENDOR_UPDATE = "vendor_update", _("Vendor update")
        VENDOR_DONE = "vendor_done", _("Vendor marked done")
        VENDOR_OVERDUE = "vendor_overdue", _("Vendor overdue")
        TIER_WARNING = "tier_warning", _("Tier budget warning")
        SLA_WARNING = "sla_warning", _("SLA warning")
        SLA_BREACH = "sla_breach", _("SLA breached")
        ESCALATION_REQUESTED = "escalation_requested", _("Customer asked for escalation")
        RESOLVED = "resolved", _("Resolved")
        REOPENED = "reopened", _("Reopened")
        CLOSED = "closed", _("Closed")
        MERGED = "merged", _("Merged")
        CSAT = "csat", _("Satisfaction rating")
        ATTACHMENT = "attachment", _("Attachment added")
        REMINDER = "reminder", _("Reminder sent")
        EDITED = "edited", _("Details changed")
        LINKED = "linked", _("Linked")
        # Written by the automation app (tags, rules).
        TAGS = "tags", _("Tags changed")
        CATEGORY = "category", _("Category changed")
        TRIGGER = "trigger", _("Automation rule")

    # No single-column index: ``event_ticket_created`` leads with it (see Meta).
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # partial index in Meta: timer and system events have no actor
    )
    actor_name = models.CharField(
        max_length=120, blank=True, help_text=_("Who acted when it is not a user: system, vendor.")
    )
    body = models.TextField(blank=True, max_length=20000)
    is_public = models.BooleanField(default=False)
    data = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(
        max_length=120,
        unique=True,
        null=True,
        blank=True,
        help_text=_("Set for events that must happen at most once (timer actions)."),
    )
    # Outbox: events that notify someone are sent by a task after commit; an event
    # whose task was lost (broker down) is picked up by the periodic outbox flush.
    notify = models.BooleanField(default=False)
    notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="event_ticket_created"),
            models.Index(fields=["kind", "created_at"], name="event_kind_created"),
            models.Index(
                fields=["created_at"],
                name="event_outbox_pending",
                condition=Q(notify=True, notified_at__isnull=True),
            ),
            models.Index(
                fields=["actor"], name="event_actor_set", condition=Q(actor__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on ticket {self.ticket_id}"


def attachment_upload_to(instance: Attachment, filename: str) -> str:
    # Random stored name: the customer's file name is kept only as data, never as a path.
    suffix = PurePosixPath(filename).suffix.lower()[:10]
    return f"attachments/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}{suffix}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    event = models.ForeignKey(
        TicketEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    file = models.FileField(upload_to=attachment_upload_to, max_length=200)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_by_name = models.CharField(max_length=120, blank=True)
    is_public = models.BooleanField(default=True, help_text=_("Visible to the customer."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="attachment_ticket")]

    def __str__(self) -> str:
        return self.original_name


class CannedResponse(TimestampedModel):
    """A reply template for agents. Placeholders: {{ requester_name }}, {{ reference }},
    {{ agent_name }}, {{ tracking_url }}."""

    title = models.CharField(max_length=120)
    body = models.TextField(max_length=10000)
    tier = models.PositiveSmallIntegerField(
        choices=TierLevel.choices,
        default=TierLevel.FRONTLINE,
        help_text=_("Agents of this tier and above see it."),
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["tier", "title"]

    def __str__(self) -> str:
        return self.title


class LifecyclePolicy(TimestampedModel):
    """How long the desk waits at the end of a ticket's life (one row, edited by
    managers; ``tickets/services/lifecycle.py`` runs it). 0 turns a clock off."""

    autoclose_days = models.PositiveSmallIntegerField(
        _("close resolved tickets after (days)"),
        help_text=_("The customer is told. 0: resolved tickets stay open for a reply."),
    )
    pending_reminder_days = models.PositiveSmallIntegerField(
        _("remind a customer we wait on after (days)"),
        help_text=_("One reminder e-mail per wait. 0: no reminder."),
    )
    pending_autoresolve_days = models.PositiveSmallIntegerField(
        _("resolve an unanswered ticket after (days)"),
        help_text=_("Counted from when we asked; the customer can still reply. 0: never."),
    )

    def __str__(self) -> str:
        return str(_("Ticket lifecycle"))

    @classmethod
    def current(cls) -> LifecyclePolicy:
        """The row, created on first use from the TICKET_* settings."""
        from django.conf import settings

        policy, _created = cls.objects.get_or_create(
            pk=1,
            defaults={
                "autoclose_days": settings.TICKET_AUTOCLOSE_DAYS,
                "pending_reminder_days": settings.TICKET_PENDING_REMINDER_DAYS,
                "pending_autoresolve_days": settings.TICKET_PENDING_AUTORESOLVE_DAYS,
            },
        )
        return policy


class SatisfactionRating(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="ratings")
    resolution_round = models.PositiveSmallIntegerField(
        help_text=_("Which resolution this rates (reopen_count at the time).")
    )
    rating = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, max_length=4000)
    resolved_tier = models.PositiveSmallIntegerField(choices=TierLevel.choices, null=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "resolution_round"], name="one_rating_per_resolution"
            ),
            models.CheckConstraint(condition=Q(rating__gte=1, rating__lte=5), name="rating_1_to_5"),
        ]
        indexes = [models.Index(fields=["created_at"], name="rating_created")]

    def __str__(self) -> str:
        return f"{self.rating}/5 for ticket {self.ticket_id}"


class Notification(models.Model):
    """In-app notification for a staff member (the bell in the header)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    ticket = models.ForeignKey(Ticket, null=True, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(TicketEvent, null=True, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "read_at", "-created_at"], name="notification_inbox")
        ]

    def __str__(self) -> str:
        return self.text


class Deflection(models.Model):
    """A KB article suggested to a customer while they filled in the ticket form.

    One row per (form session, article). ``session_key`` is the form's
    ``submission_key``. A session in which the customer opened an article and then
    submitted no ticket is a *deflected ticket*; when they submitted anyway,
    ``ticket`` is set and Tier 1 sees which articles did not help.
    """

    session_key = models.CharField(max_length=64)
    article = models.ForeignKey(
        "knowledgebase.Article", on_delete=models.CASCADE, related_name="deflections"
    )
    shown_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="deflections"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session_key", "article"], name="one_deflection_per_session_article"
            )
        ]
        # Lookups by session use the unique constraint's index (session_key first).
        indexes = [models.Index(fields=["shown_at"], name="deflection_shown")]

    def __str__(self) -> str:
        return f"{self.article_id} shown in {self.session_key}"


class EmailVerification(models.Model):
    """A customer account's proof that it owns its e-mail address.

    Anonymous tickets submitted with an address attach to the account only once this
    address is verified (a signed link e-mailed at sign-up), so nobody can read
    someone else's tickets by signing up with their address.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_verification"
    )
    email = models.EmailField(help_text=_("The address that was verified (lower case)."))
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        state = "verified" if self.verified_at else "unverified"
        return f"{self.email} ({state})"


class TicketAccessGrant(models.Model):
    """A manager lets one agent act on one ticket above the agent's tier (a Tier 1
    agent helping on a Tier 3 outage). Honoured by ``tickets.selectors``."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="access_grants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ticket_grants"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket", "user"], name="one_grant_per_ticket_user")
        ]
        indexes = [models.Index(fields=["user", "ticket"], name="grant_user_ticket")]

    def __str__(self) -> str:
        return f"{self.user_id} may act on ticket {self.ticket_id}"

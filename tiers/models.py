"""Tier levels, agents, escalation policies, business calendars and vendors.

This module never imports ``tickets``: cross-app relations are strings, so
``tickets.services`` may import ``tiers.selectors`` while the escalation engine in
``tiers.services`` imports ``tickets.services``.
"""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from helpdesk.models import TimestampedModel


class TierLevel(models.IntegerChoices):
    FRONTLINE = 1, _("Tier 1 · Frontline")
    TECHNICAL = 2, _("Tier 2 · Technical")
    ENGINEERING = 3, _("Tier 3 · Engineering")
    VENDOR = 4, _("Tier 4 · Vendor")


#: How a tier is named to customers on their tracking page.
CUSTOMER_TIER_NAMES = {
    1: _("with our help desk"),
    2: _("with our technical team"),
    3: _("with our engineers"),
    4: _("with our engineers and the equipment vendor"),
}


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(_("%(tz)s is not a known time zone.") % {"tz": value}) from exc


class BusinessCalendar(TimestampedModel):
    """When the clock runs: working hours per weekday, holidays, a time zone.

    A calendar with ``is_24x7`` counts every second; otherwise only the
    ``WorkingHours`` intervals on non-holiday days count.
    """

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    is_24x7 = models.BooleanField(_("24×7"), default=True)
    is_default = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_calendar"
            )
        ]

    def __str__(self) -> str:
        return self.name


class WorkingHours(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["weekday", "start"]
        verbose_name_plural = _("working hours")
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="hours_end_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"


class Holiday(models.Model):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="one_holiday_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.date}: {self.name}"


class EscalationPolicy(TimestampedModel):
    """How long a ticket may stay unresolved in a tier before it is promoted."""

    tier = models.PositiveSmallIntegerField(choices=TierLevel.choices)
    priority = models.CharField(max_length=10, choices=Priority.choices)
    budget = models.DurationField(help_text=_("Business time allowed in this tier."))
    warn_at_percent = models.PositiveSmallIntegerField(default=75)
    calendar = models.ForeignKey(
        BusinessCalendar,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text=_("Empty: the default calendar."),
    )

    class Meta:
        ordering = ["tier", "priority"]
        verbose_name_plural = _("escalation policies")
        constraints = [
            models.UniqueConstraint(
                fields=["tier", "priority"], name="one_policy_per_tier_priority"
            ),
            models.CheckConstraint(
                condition=Q(budget__gt=timedelta(0)), name="policy_budget_positive"
            ),
            models.CheckConstraint(
                condition=Q(warn_at_percent__gte=1, warn_at_percent__lte=99),
                name="policy_warn_percent_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Tier {self.tier} / {self.priority}: {self.budget}"


class SLAPolicy(TimestampedModel):
    """The customer's clock: end-to-end first response and resolution targets."""

    priority = models.CharField(max_length=10, choices=Priority.choices, unique=True)
    first_response = models.DurationField()
    resolution = models.DurationField()
    warn_at_percent = models.PositiveSmallIntegerField(default=75)
    calendar = models.ForeignKey(BusinessCalendar, null=True, blank=True, on_delete=models.PROTECT)

    class Meta:
        ordering = ["priority"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return f"SLA {self.priority}: respond {self.first_response}, resolve {self.resolution}"


class AgentProfile(TimestampedModel):
    """Marks a user as staff of the help desk, at a tier. Managers see every tier."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile"
    )
    tier = models.PositiveSmallIntegerField(choices=TierLevel.choices, default=TierLevel.FRONTLINE)
    is_manager = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    is_available = models.BooleanField(
        _("available"), default=True, help_text=_("Off while away: shown to managers.")
    )
    capacity = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text=_("How many open tickets this agent should hold at once. Empty: no limit."),
    )
    away_until = models.DateTimeField(
        _("away until"),
        null=True,
        blank=True,
        help_text=_("Out of office: the agent counts as available again from this moment."),
    )
    skills = models.ManyToManyField(
        "tickets.Category",
        blank=True,
        related_name="skilled_agents",
        help_text=_("Categories auto-assignment gives this agent. None: every category."),
    )

    class Meta:
        indexes = [models.Index(fields=["tier", "is_active"], name="agent_tier_active")]

    def __str__(self) -> str:
        return f"{self.user.get_username()} (Tier {self.tier})"

    def available_at(self, now) -> bool:
        """Available, or away with a return date that has come."""
        return self.is_available or (self.away_until is not None and self.away_until <= now)


class TierAssignment(TimestampedModel):
    """How a tier's new arrivals get an agent: nobody (they wait in the queue), in turn,
    or to whoever holds the least open work. One row per tier, edited by managers."""

    class Mode(models.TextChoices):
        OFF = "off", _("Off: agents claim from the queue")
        ROUND_ROBIN = "round_robin", _("Round robin: each agent in turn")
        LEAST_OPEN = "least_open", _("Least open work first")

    tier = models.PositiveSmallIntegerField(
        choices=[c for c in TierLevel.choices if c[0] < TierLevel.VENDOR], unique=True
    )
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.OFF)
    # Round robin's place in the turn; the row's lock serialises the picks of one tier.
    last_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    reassign_after_hours = models.PositiveSmallIntegerField(
        default=0,
        help_text=_(
            "A ticket whose agent is away and that nobody touched for this many hours goes "
            "to someone else. 0: never."
        ),
    )

    class Meta:
        ordering = ["tier"]

    def __str__(self) -> str:
        return f"Tier {self.tier}: {self.get_mode_display()}"

    @classmethod
    def every_tier(cls) -> list[TierAssignment]:
        """Tiers 1-3, each with its row (created "off" where missing)."""
        rows = {a.tier: a for a in cls.objects.select_related("last_assignee")}
        for tier in (1, 2, 3):
            if tier not in rows:
                rows[tier], _created = cls.objects.get_or_create(tier=tier)
        return [rows[t] for t in sorted(rows)]


class VendorContact(TimestampedModel):
    """An external supplier that takes Tier 4 hand-offs for its categories."""

    name = models.CharField(max_length=120)
    company = models.CharField(max_length=120)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)
    categories = models.ManyToManyField("tickets.Category", related_name="vendors", blank=True)
    contract_reference = models.CharField(max_length=80, blank=True)
    response_target = models.DurationField(default=timedelta(hours=8))
    resolution_target = models.DurationField(default=timedelta(days=3))
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["company", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.company})"


class VendorHandoff(TimestampedModel):
    """One hand-off of a ticket to a vendor. The link token embeds ``nonce``;
    revoking sets ``revoked_at`` and a new hand-off gets a new nonce."""

    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="vendor_handoffs"
    )
    vendor = models.ForeignKey(VendorContact, on_delete=models.PROTECT, related_name="handoffs")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The Tier 3 agent who stays accountable."),
    )
    nonce = models.CharField(max_length=64, unique=True)
    summary = models.TextField(blank=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    respond_by = models.DateTimeField()
    resolve_by = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    vendor_reference = models.CharField(max_length=80, blank=True)
    chased_at = models.DateTimeField(null=True, blank=True)
    overdue_alerted_at = models.DateTimeField(null=True, blank=True)
    # Stored (not derived on read) so the vendor scorecards can average them in SQL.
    response_time = models.DurationField(
        null=True, blank=True, help_text=_("From hand-off to the vendor's first update.")
    )
    resolution_time = models.DurationField(
        null=True, blank=True, help_text=_("From hand-off to the vendor marking its part done.")
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["vendor", "created_at"], name="handoff_vendor_created"),
            models.Index(
                fields=["respond_by"],
                name="handoff_open_respond_by",
                condition=Q(first_response_at__isnull=True, revoked_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"Hand-off of ticket {self.ticket_id} to {self.vendor}"


class PeriodicRun(models.Model):
    """When a periodic job last finished: the health check reads the sweep's age here.

    In the database (not the cache) because it is what tells that the timers still run
    when anything else has failed; one row per job, rewritten by every run (a one-row
    ``UPDATE`` a second for the sweep)."""

    name = models.CharField(max_length=60, primary_key=True)
    completed_at = models.DateTimeField()
    duration_ms = models.FloatField(default=0)
    #: Set when the managers were told that this job went stale; cleared by the next run,
    #: so each outage alerts once.
    alerted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.completed_at:%Y-%m-%d %H:%M:%S}"

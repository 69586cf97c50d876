"""Reads of the manager pages: each list is one query (plus the page count)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from integrations.models import ApiToken, Webhook
from tickets.models import CannedResponse, Category
from tiers.models import (
    AgentProfile,
    BusinessCalendar,
    EscalationPolicy,
    SLAPolicy,
    VendorContact,
)

from .models import AuditEntry

#: Ticket statuses an agent is holding (the load shown against capacity).
OPEN_STATUSES = ("new", "open", "pending_customer", "pending_vendor")


def agent_list() -> QuerySet[AgentProfile]:
    return (
        AgentProfile.objects.select_related("user")
        .annotate(
            open_tickets=Count(
                "user__assigned_tickets",
                filter=Q(user__assigned_tickets__status__in=OPEN_STATUSES),
            )
        )
        .order_by("-is_active", "tier", "user__username")
    )


def category_list() -> QuerySet[Category]:
    return Category.objects.order_by("sort_order", "name")


def escalation_policy_list() -> QuerySet[EscalationPolicy]:
    return EscalationPolicy.objects.select_related("calendar").order_by("tier", "priority")


def calendar_list() -> QuerySet[BusinessCalendar]:
    return BusinessCalendar.objects.annotate(
        holiday_count=Count("holidays", distinct=True),
        hours_count=Count("hours", distinct=True),
    ).order_by("name")


def sla_policy_list() -> QuerySet[SLAPolicy]:
    return SLAPolicy.objects.select_related("calendar").order_by("priority")


def vendor_list() -> QuerySet[VendorContact]:
    return VendorContact.objects.prefetch_related("categories").order_by("company", "name")


def canned_response_list() -> QuerySet[CannedResponse]:
    return CannedResponse.objects.order_by("tier", "title")


def webhook_list() -> QuerySet[Webhook]:
    return Webhook.objects.select_related("created_by").order_by("name")


def api_token_list() -> QuerySet[ApiToken]:
    return ApiToken.objects.select_related("user").order_by("-created_at", "-id")


def audit_entry_list() -> QuerySet[AuditEntry]:
    return AuditEntry.objects.order_by("-created_at", "-id")


def audit_object_types() -> list[str]:
    return list(
        AuditEntry.objects.order_by("object_type").values_list("object_type", flat=True).distinct()
    )

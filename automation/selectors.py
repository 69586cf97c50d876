"""Reads of the automation app that pages share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Count, Q, QuerySet

from tiers.selectors import user_is_manager

from .models import Macro, TicketTag, Trigger

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def ticket_tag_names(*, ticket_id: int) -> list[str]:
    return list(
        TicketTag.objects.filter(ticket_id=ticket_id)
        .order_by("tag__name")
        .values_list("tag__name", flat=True)
    )


def macros_usable_by(*, user: AbstractBaseUser) -> QuerySet[Macro]:
    """Active shared macros and the user's own."""
    return Macro.objects.filter(Q(owner__isnull=True) | Q(owner=user), is_active=True).order_by(
        "name", "id"
    )


def macros_editable_by(*, user: AbstractBaseUser) -> QuerySet[Macro]:
    """Managers edit every macro; an agent edits its personal ones."""
    qs = Macro.objects.select_related("owner").order_by("owner_id", "name", "id")
    if user_is_manager(user):
        return qs
    return qs.filter(owner=user)


def trigger_list() -> QuerySet[Trigger]:
    """Every rule with what the list page shows, in run order, in two queries."""
    return (
        Trigger.objects.select_related("set_category", "assign_to", "canned_reply", "webhook")
        .prefetch_related("categories")
        .annotate(notify_count=Count("notify_users"))
        .order_by("position", "name", "id")
    )

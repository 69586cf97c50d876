"""Reads of the automation app that pages share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import CharField, Count, IntegerField, Q, QuerySet, Value

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


def ticket_panel_rows(
    *, ticket_id: int, user: AbstractBaseUser, with_macros: bool
) -> tuple[list[str], list[tuple[int, str]]]:
    """The ticket's tag names and (with ``with_macros``) the ``(id, name)`` of the
    macros ``user`` may apply, in one query (a UNION): the ticket page's budget."""
    tags = TicketTag.objects.filter(ticket_id=ticket_id).values_list(
        Value("t", output_field=CharField()), "tag__name", Value(0, output_field=IntegerField())
    )
    rows = tags
    if with_macros:
        macros = (
            macros_usable_by(user=user)
            .order_by()
            .values_list(Value("m", output_field=CharField()), "name", "id")
        )
        rows = tags.union(macros, all=True)
    found = list(rows)
    return (
        sorted(name for kind, name, _pk in found if kind == "t"),
        sorted(((pk, name) for kind, name, pk in found if kind == "m"), key=lambda m: m[1]),
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

"""Dashboard figures, computed in the database (never by loading tickets into Python)."""

from __future__ import annotations

from django.db.models import Count, Q

from tickets.models import Ticket


def headline_summary() -> dict:
    return Ticket.objects.aggregate(
        created=Count("id"),
        open=Count("id", filter=Q(status__in=Ticket.ACTIVE_STATUSES)),
        resolved=Count("id", filter=Q(status__in=Ticket.DONE_STATUSES)),
        first_contact=Count("id", filter=Q(first_contact_resolution=True)),
    )

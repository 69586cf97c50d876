"""Fast fixtures for the sweep's load, concurrency and crash tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection

from tickets.models import Category, Ticket


def make_overdue_tickets(
    n: int, *, category: Category, due: datetime, spread: timedelta = timedelta(0), tier: int = 1
) -> list[int]:
    """``n`` live tickets at ``tier`` whose deadline passed at ``due`` (minus a spread)."""
    return make_tickets_due(category, [due - spread * (i / max(n, 1)) for i in range(n)], tier=tier)


def make_tickets_due(category: Category, deadlines: list[datetime], *, tier: int = 1) -> list[int]:
    """One live ticket at ``tier`` per deadline, as ``ticket_create`` would have left
    it, written with one INSERT (bench/escalation.py makes its tickets with it too)."""
    budget = timedelta(hours=8)
    rows = []
    for i, deadline in enumerate(deadlines):
        rows.append(
            Ticket(
                category=category,
                subject=f"Overdue ticket {i}",
                description="Generated for a sweep test.",
                requester_name="Pat Load",
                requester_email=f"load{i}@example.com",
                tier=tier,
                status=Ticket.Status.NEW,
                priority="normal",
                escalate_at=deadline,
                tier_entered_at=deadline - budget,
                tier_budget=budget,
                paused_business_time=timedelta(0),
            )
        )
    created = Ticket.objects.bulk_create(rows, batch_size=2000)
    ids = [t.pk for t in created]
    with connection.cursor() as cursor:
        # lpad() truncates: seven-digit ids must keep all their digits (as reference_for).
        cursor.execute(
            "UPDATE tickets_ticket SET reference = 'TD-' || CASE WHEN id < 1000000 THEN lpad(id::text, 6, '0') ELSE id::text END "
            "WHERE id = ANY(%s)",
            [ids],
        )
    return ids

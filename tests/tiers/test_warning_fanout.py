"""A backlog of timer warnings for unassigned tickets tells every agent of the tier, in
a few statements per batch (``tickets.services.notify.bells_store``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tickets.models import Notification, Ticket, TicketEvent
from tickets.services.notify import bell, bells_store
from tiers.services import escalation_sweep

from ..conftest import make_agent
from .helpers import make_overdue_tickets

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_every_tier_agent_hears_of_each_warning_in_constant_queries(
    policies, category, django_assert_max_num_queries
):
    tier1 = [make_agent(1, username=f"t1-{i}") for i in range(6)]
    make_agent(2, username="t2-only")  # another tier: not told
    assigned_to = tier1[0]
    # Due in an hour, warned now (75% of the budget used).
    ids = make_overdue_tickets(40, category=category, due=NOW + timedelta(hours=1))
    Ticket.objects.filter(pk__in=ids).update(escalation_warn_at=NOW - timedelta(minutes=1))
    Ticket.objects.filter(pk=ids[0]).update(assignee=assigned_to)

    # Two batches of at most 25, each a handful of statements whatever the number of
    # tickets and agents (it was one INSERT per warning, each built row by row).
    with django_assert_max_num_queries(25):
        report = escalation_sweep(now=NOW, batch=25)

    assert len(report.warnings) == 40
    warned = TicketEvent.objects.filter(kind=TicketEvent.Kind.TIER_WARNING)
    assert warned.count() == 40
    # The assigned ticket tells its assignee only; each other one every Tier 1 agent.
    assigned_event = warned.get(ticket_id=ids[0])
    assert list(
        Notification.objects.filter(event=assigned_event).values_list("user_id", flat=True)
    ) == [assigned_to.pk]
    other = warned.exclude(ticket_id=ids[0]).first()
    told = Notification.objects.filter(event=other)
    assert sorted(told.values_list("user_id", flat=True)) == sorted(u.pk for u in tier1)
    assert told.first().ticket_id == other.ticket_id
    assert told.first().text.startswith(other.ticket.reference + ": escalates at")
    assert Notification.objects.count() == 1 + 39 * 6
    # A second sweep finds nothing left to warn about.
    assert escalation_sweep(now=NOW).warnings == []
    assert Notification.objects.count() == 1 + 39 * 6


def test_bells_skip_missing_repeated_and_acting_users(make_ticket, agent1, agent2):
    ticket = make_ticket()
    event = ticket.events.first()
    stored = bells_store(
        [
            bell(
                ticket=ticket,
                event=event,
                users=[agent1, None, agent1, agent2],
                text="x" * 400,
                skip=agent2.pk,
            ),
            bell(ticket=ticket, event=event, users=[], text="nobody"),
        ]
    )
    assert stored == 1
    (row,) = Notification.objects.all()
    assert (row.user_id, row.ticket_id, row.event_id) == (agent1.pk, ticket.pk, event.pk)
    assert len(row.text) == 300 and row.read_at is None and row.created_at is not None

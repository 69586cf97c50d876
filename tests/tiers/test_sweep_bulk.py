"""The bulk compare-and-set and the batch query of the sweep (the fast path)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from tickets.models import Ticket, TicketEvent
from tickets.services.events import CasRow, events_add, tickets_compare_and_set
from tiers.services import escalation_sweep

from .helpers import make_overdue_tickets

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _row(ticket: Ticket, **changes) -> CasRow:
    read = {"from_tier": ticket.tier, "from_deadline": ticket.escalate_at}
    read["from_status"] = ticket.status
    read.update(changes)
    ticket.tier = read["from_tier"] + 1
    return CasRow(ticket=ticket, **read)


def test_compare_and_set_writes_rows_still_as_read(policies, category):
    ids = make_overdue_tickets(3, category=category, due=NOW - timedelta(minutes=1))
    rows = [_row(t) for t in Ticket.objects.filter(pk__in=ids)]
    assert tickets_compare_and_set(rows, fields=["tier"]) == 3
    assert set(Ticket.objects.filter(pk__in=ids).values_list("tier", flat=True)) == {2}


@pytest.mark.parametrize(
    "changed",
    [
        {"from_tier": 2},
        {"from_deadline": NOW - timedelta(minutes=2)},
        {"from_status": Ticket.Status.OPEN},
    ],
    ids=["tier", "deadline", "status"],
)
def test_compare_and_set_refuses_a_row_that_changed(policies, category, changed):
    ids = make_overdue_tickets(3, category=category, due=NOW - timedelta(minutes=1))
    tickets = list(Ticket.objects.filter(pk__in=ids).order_by("pk"))
    rows = [_row(tickets[0]), _row(tickets[1], **changed), _row(tickets[2])]
    with transaction.atomic():
        assert tickets_compare_and_set(rows, fields=["tier"]) == 2  # the sweep rolls back
        transaction.set_rollback(True)
    # The sweep rolls the savepoint back and redoes the batch ticket by ticket.
    assert set(Ticket.objects.filter(pk__in=ids).values_list("tier", flat=True)) == {1}


def test_the_sweep_leaves_a_ticket_not_yet_due(policies, category):
    ids = make_overdue_tickets(1, category=category, due=NOW + timedelta(minutes=1))
    assert escalation_sweep(now=NOW).promoted == []
    assert Ticket.objects.get(pk=ids[0]).tier == 1


def test_many_tickets_with_one_deadline_span_batches_exactly_once(policies, category):
    # Ties on escalate_at across batch boundaries: the keyset must neither skip nor repeat.
    ids = make_overdue_tickets(23, category=category, due=NOW - timedelta(seconds=5))
    report = escalation_sweep(now=NOW, batch=4)
    assert len(report.promoted) == 23
    assert set(Ticket.objects.filter(pk__in=ids).values_list("tier", flat=True)) == {2}
    events = TicketEvent.objects.filter(kind=TicketEvent.Kind.PROMOTED, ticket_id__in=ids)
    assert sorted(events.values_list("ticket_id", flat=True)) == sorted(ids)


def test_the_planner_setting_is_put_back(policies, category):
    make_overdue_tickets(5, category=category, due=NOW - timedelta(seconds=5))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_bitmapscan = on")
        escalation_sweep(now=NOW, batch=2)
        cursor.execute("SHOW enable_bitmapscan")
        assert cursor.fetchone()[0] == "on"


def test_webhooks_hear_of_each_promotion_with_one_lookup_per_batch(
    policies, category, django_capture_on_commit_callbacks
):
    from unittest import mock

    from django.test.utils import CaptureQueriesContext

    from integrations.models import Webhook
    from integrations.tasks import webhook_deliver

    escalations = Webhook.objects.create(
        name="esc", url="https://example.com/h", events=["ticket.escalated"]
    )
    Webhook.objects.create(name="new", url="https://example.com/n", events=["ticket.created"])
    ids = make_overdue_tickets(5, category=category, due=NOW - timedelta(seconds=5))
    with (
        mock.patch.object(webhook_deliver, "delay") as delay,
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        escalation_sweep(now=NOW, batch=2)
    events = TicketEvent.objects.filter(kind=TicketEvent.Kind.PROMOTED, ticket_id__in=ids)
    assert sorted(c.kwargs["event_id"] for c in delay.call_args_list) == sorted(
        events.values_list("pk", flat=True)
    )
    assert {c.kwargs["webhook_id"] for c in delay.call_args_list} == {escalations.pk}
    lookups = [q for q in queries.captured_queries if "integrations_webhook" in q["sql"]]
    # At most one per batch (batches of 2, 2, 1), never one per event; the active list
    # is also kept per process under ver:webhooks (integrations/services.py), so
    # after the first batch it is served without a query.
    assert 1 <= len(lookups) <= 3


def test_a_failing_event_hook_does_not_break_the_sweep(
    policies, category, django_capture_on_commit_callbacks
):
    from tickets.services import core

    calls = []

    def broken(event):
        calls.append(event.pk)
        raise RuntimeError("integration down")

    ids = make_overdue_tickets(3, category=category, due=NOW - timedelta(seconds=5))
    core.EVENT_HOOKS.append(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            report = escalation_sweep(now=NOW, batch=2)
    finally:
        core.EVENT_HOOKS.remove(broken)
    assert len(report.promoted) == 3
    assert set(Ticket.objects.filter(pk__in=ids).values_list("tier", flat=True)) == {2}
    assert len(calls) == 3  # each event, each failure logged


def test_events_inserted_in_one_statement_keep_order_and_values(policies, category):
    ids = make_overdue_tickets(3, category=category, due=NOW)
    events = [
        TicketEvent(
            ticket_id=pk,
            kind=TicketEvent.Kind.PROMOTED,
            actor_name="escalation timer",
            body=f"Body {i} with 'quotes', \"double\", {{braces}} and ünïcode",
            data={"n": i, "text": "a,b}{'\"", "none": None},
            dedupe_key=f"test:{pk}" if i != 1 else None,
            notify=i == 0,
        )
        for i, pk in enumerate(ids)
    ]
    created = events_add(events)
    assert [e.ticket_id for e in created] == ids
    for i, event in enumerate(created):
        stored = TicketEvent.objects.get(pk=event.pk)
        assert stored.ticket_id == ids[i] and stored.created_at == event.created_at
        assert stored.body == events[i].body and stored.data == events[i].data
        assert (stored.dedupe_key, stored.notify) == (events[i].dedupe_key, i == 0)
        assert stored.actor_id is None and stored.notified_at is None and not stored.is_public

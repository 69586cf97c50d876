"""The one write path (tickets/services/events.py): every event, from a person or the
timer, reaches the after-commit hooks once, and a rolled-back write reaches none."""

from __future__ import annotations

import pytest
from django.db import transaction

from helpdesk import cache
from tickets.models import Ticket, TicketEvent
from tickets.services import core
from tickets.services.events import EVENT_HOOKS, CasRow, events_add, tickets_compare_and_set

pytestmark = pytest.mark.django_db
Kind = TicketEvent.Kind


@pytest.fixture
def heard():
    """Every event the hooks hear of, and the batches a ``for_many`` hook receives."""
    events: list[int] = []
    batches: list[list[int]] = []

    def one(event):
        events.append(event.pk)

    def many(batch):
        batches.append([e.pk for e in batch])

    def batched(event):  # pragma: no cover - for_many is called instead
        raise AssertionError("for_many hooks get the batch")

    batched.for_many = many
    EVENT_HOOKS.extend([one, batched])
    yield events, batches
    EVENT_HOOKS.remove(one)
    EVENT_HOOKS.remove(batched)


def test_an_agent_action_reaches_the_hooks_after_commit(
    make_ticket, agent1, heard, django_capture_on_commit_callbacks
):
    ticket = make_ticket()
    events, batches = heard
    with django_capture_on_commit_callbacks(execute=True):
        note = core.ticket_add_note(ticket=ticket, agent=agent1, body="Checked the VPN logs")
        assert events == []  # nothing before the commit
    assert events == [note.pk] and batches == [[note.pk]]


def test_a_rolled_back_write_reaches_no_hook_and_bumps_nothing(
    make_ticket, agent1, heard, django_capture_on_commit_callbacks
):
    ticket = make_ticket()
    events, _batches = heard
    before = cache.version(cache.TICKETS)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        core.ticket_add_note(ticket=ticket, agent=agent1, body="Never mind")
        transaction.set_rollback(True)
    assert events == []
    assert cache.version(cache.TICKETS) == before


def test_a_batch_is_one_insert_one_bump_and_one_call_per_batch_hook(
    make_ticket, heard, django_capture_on_commit_callbacks, django_assert_num_queries
):
    tickets = [make_ticket(subject=f"Printer {i}") for i in range(3)]
    events, batches = heard
    before = cache.version(cache.TICKETS)
    batch = [
        TicketEvent(ticket=t, kind=Kind.NOTE, actor_name="importer", body=f"Row {i}")
        for i, t in enumerate(tickets)
    ]
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(1):
        created = events_add(batch)
    ids = [e.pk for e in created]
    assert list(TicketEvent.objects.filter(pk__in=ids).values_list("body", flat=True)) == [
        "Row 0",
        "Row 1",
        "Row 2",
    ]
    assert events == ids and batches == [ids]
    assert cache.version(cache.TICKETS) == before + 1


def test_compare_and_set_writes_only_rows_still_as_read(make_ticket):
    kept, moved = make_ticket(subject="kept"), make_ticket(subject="moved")
    rows = []
    for ticket in (kept, moved):
        rows.append(CasRow(ticket, ticket.tier, ticket.escalate_at, ticket.status))
        ticket.priority = "urgent"
    Ticket.objects.filter(pk=moved.pk).update(tier=2)  # someone else moved it meanwhile
    assert tickets_compare_and_set(rows, fields=["priority"]) == 1
    assert Ticket.objects.get(pk=kept.pk).priority == "urgent"
    assert Ticket.objects.get(pk=moved.pk).priority != "urgent"

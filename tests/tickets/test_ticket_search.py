"""The searchable text lives in ``TicketSearch`` (migration 0009): a trigger keeps it
current whatever writes the ticket, and every search path (queue, API,
KB gaps) finds tickets by subject, description and e-mail through it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import QueryDict

from tests.factories import TicketFactory
from tickets.models import Ticket, TicketSearch, ticket_text_contains
from tickets.queue import params_from, queue_querysets

pytestmark = pytest.mark.django_db


def search(user, q: str) -> set[str]:
    params = params_from(QueryDict(f"view=all&q={q}"))
    return {t.reference for qs in queue_querysets(user=user, params=params) for t in qs}


def test_side_table_follows_every_kind_of_write(category):
    made = TicketFactory(subject="Printer jam", description="Tray 2", requester_email="a@x.org")
    bulk = Ticket.objects.bulk_create(
        [
            Ticket(
                category=category,
                subject=f"Bulk {i}",
                description="d",
                requester_name="n",
                requester_email=f"b{i}@x.org",
            )
            for i in range(3)
        ]
    )
    rows = {r.ticket_id: r for r in TicketSearch.objects.all()}
    assert rows[made.pk].subject == "Printer jam"
    assert rows[made.pk].requester_email == "a@x.org"
    assert {rows[t.pk].subject for t in bulk} == {"Bulk 0", "Bulk 1", "Bulk 2"}

    Ticket.objects.filter(pk=made.pk).update(subject="Scanner jam", description="Tray 3")
    made.refresh_from_db()
    made.requester_email = "new@x.org"
    made.save()  # a full save names every column; only changed text is rewritten
    row = TicketSearch.objects.get(pk=made.pk)
    assert (row.subject, row.description, row.requester_email) == (
        "Scanner jam",
        "Tray 3",
        "new@x.org",
    )

    Ticket.objects.filter(pk=made.pk).delete()
    assert not TicketSearch.objects.filter(pk=made.pk).exists()


def test_a_promotion_does_not_rewrite_the_search_row(category):
    ticket = TicketFactory(category=category)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xmin::text FROM tickets_ticketsearch WHERE ticket_id = %s", [ticket.pk]
        )
        before = cursor.fetchone()[0]
        cursor.execute(
            "UPDATE tickets_ticket SET tier = 2, status = 'new' WHERE id = %s", [ticket.pk]
        )
        cursor.execute(
            "SELECT xmin::text FROM tickets_ticketsearch WHERE ticket_id = %s", [ticket.pk]
        )
        assert cursor.fetchone()[0] == before


def test_queue_search_finds_subject_description_and_email(manager, category):
    a = TicketFactory(category=category, subject="VPN drops hourly", requester_email="kim@corp.io")
    b = TicketFactory(category=category, description="The badge reader beeps twice")
    TicketFactory(category=category, subject="Unrelated")
    assert search(manager, "vpn DROPS") == {a.reference}
    assert search(manager, "badge reader") == {b.reference}
    assert search(manager, "KIM@corp.io") == {a.reference}
    assert search(manager, "nothing-matches-this") == set()


def test_after_a_subject_edit_the_search_shows_it(manager, category):
    ticket = TicketFactory(category=category, subject="Old words")
    ticket.subject = "Fresh keyboard"
    ticket.save(update_fields=["subject"])
    assert search(manager, "keyboard") == {ticket.reference}
    assert search(manager, "Old words") == set()


def test_ticket_text_contains_refuses_other_columns():
    with pytest.raises(ValueError):
        ticket_text_contains("resolution", "x")

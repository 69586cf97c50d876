"""The same ticket form posted twice — one after the other, or at the same instant
from two threads on PostgreSQL — makes one ticket, and both posts land on it."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from tickets.models import Ticket, TicketEvent

pytestmark = pytest.mark.faults


def _form(category, key: str, n: int = 0) -> dict:
    return {
        "name": "Pat",
        "email": "pat@example.com",
        "category": category.pk,
        "subject": f"VPN drops every hour {n}",
        "description": "The VPN disconnects every hour on the hour.",
        "urgency": "medium",
        "impact": "low",
        "submission_key": key,
    }


@pytest.mark.django_db
def test_the_same_post_twice_in_a_row_makes_one_ticket(client, policies, category):
    first = client.post("/tickets/new/", _form(category, "key-sequential"))
    second = client.post("/tickets/new/", _form(category, "key-sequential"))
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Ticket.objects.count() == 1
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.CREATED).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("forced", [False, True], ids=["free-race", "forced-race"])
def test_concurrent_identical_posts_make_one_ticket(policies, category, monkeypatch, forced):
    """Forced: both requests are held just past the "already submitted?" check, so both
    really INSERT, and the unique key plus the service's recovery must settle it."""
    from tickets.services import core

    rounds = 4 if forced else 8
    inside = {"barrier": None}
    real_clock_start = core.clock.clock_start

    def held_clock_start(ticket, *, now):
        inside["barrier"].wait(timeout=10)  # both threads have passed the lookup
        return real_clock_start(ticket, now=now)

    if forced:
        monkeypatch.setattr(core.clock, "clock_start", held_clock_start)
    for n in range(rounds):
        barrier = threading.Barrier(2)
        inside["barrier"] = threading.Barrier(2)
        results: list = []
        errors: list = []

        def post(n=n, barrier=barrier, results=results, errors=errors):
            try:
                client = Client(raise_request_exception=True)
                barrier.wait(timeout=10)
                results.append(client.post("/tickets/new/", _form(category, f"key-race-{n}", n)))
            except Exception as exc:
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=post) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert not errors, errors
        assert [r.status_code for r in results] == [302, 302]
        assert results[0]["Location"] == results[1]["Location"]
    assert Ticket.objects.count() == rounds
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.CREATED).count() == rounds
    assert Ticket.objects.filter(reference__isnull=True).count() == 0


@pytest.mark.django_db
def test_two_different_forms_make_two_tickets(client, policies, category):
    client.post("/tickets/new/", _form(category, "key-a"))
    client.post("/tickets/new/", _form(category, "key-b"))
    assert Ticket.objects.count() == 2

"""Two agents click "Claim" at the same moment: one wins, the other is
told who did; exactly one ASSIGNED event."""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from tickets.models import Ticket, TicketEvent


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_claims_one_winner(make_ticket, agent1):
    from tests.factories import make_agent

    rival = make_agent(1, username="rival")
    ticket = make_ticket()
    url = reverse("tickets:agent-claim", kwargs={"reference": ticket.reference})
    barrier = threading.Barrier(2)
    results: dict[str, tuple[int, str]] = {}

    def claim(user) -> None:
        client = Client()
        client.force_login(user)
        try:
            barrier.wait(timeout=10)
            response = client.post(url)
            results[user.username] = (response.status_code, response.content.decode())
        finally:
            connections.close_all()  # each thread had its own connection

    threads = [threading.Thread(target=claim, args=(u,)) for u in (agent1, rival)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    ticket.refresh_from_db()
    assert ticket.assignee is not None
    winner = ticket.assignee.username
    loser = "rival" if winner == "agent1" else "agent1"
    assert results[winner][0] == 302
    assert results[loser][0] == 409
    assert f"already claimed by {winner}" in results[loser][1]
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.ASSIGNED).count() == 1
    assert Ticket.objects.get(pk=ticket.pk).status == "open"

"""The agent queue: contents per tier and role, filters, ordering, keyset pagination,
query-count bounds."""

from __future__ import annotations

import math
import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from tests.factories import CategoryFactory, TicketFactory, make_agent
from tickets import queue as q
from tickets.models import Ticket
from tickets.services import core

pytestmark = pytest.mark.django_db
QUEUE = reverse("tickets:agent-queue")


def refs(response) -> list[str]:
    """The references listed, from the HTML (a cached response has no ``page``)."""
    return re.findall(r'<tr data-reference="([^"]+)"', response.content.decode())


@pytest.fixture
def tiers(make_ticket, agent1, agent2, agent3):
    """One ticket in each of Tiers 1-3 (escalated by hand) and one Tier 1 claimed by agent1."""
    t1 = make_ticket(subject="Printer offline")
    t1b = make_ticket(subject="Mouse broken")
    core.ticket_claim(ticket=t1b, agent=agent1)
    t2 = make_ticket(subject="VPN drops")
    core.ticket_escalate(ticket=t2, actor=agent1, symptom="s", steps_tried="st", findings="f")
    t3 = make_ticket(subject="Database down")
    core.ticket_escalate(ticket=t3, actor=agent1, symptom="s", steps_tried="st", findings="f")
    core.ticket_escalate(ticket=t3, actor=agent2, symptom="s", steps_tried="st", findings="f")
    return {"t1": t1, "t1b": t1b, "t2": t2, "t3": t3}


def test_tier_queue_shows_my_tier_unassigned_and_mine(client, tiers, agent1):
    other = make_agent(1, username="other1")
    t = tiers["t1"]
    core.ticket_claim(ticket=t, agent=other)
    client.force_login(agent1)
    response = client.get(QUEUE)
    assert response.status_code == 200
    # agent1 sees its own claim, not other1's, and nothing from Tier 2/3.
    assert refs(response) == [tiers["t1b"].reference]


def test_tier_2_queue_and_all_view(client, tiers, agent2):
    client.force_login(agent2)
    assert refs(client.get(QUEUE)) == [tiers["t2"].reference]
    seen = set(refs(client.get(QUEUE, {"view": "all"})))
    assert seen == {tiers["t1"].reference, tiers["t1b"].reference, tiers["t2"].reference}


def test_manager_all_view_sees_every_tier(client, tiers, manager):
    client.force_login(manager)
    seen = set(refs(client.get(QUEUE, {"view": "all"})))
    assert {t.reference for t in tiers.values()} <= seen


def test_my_tickets_view(client, tiers, agent1):
    client.force_login(agent1)
    assert refs(client.get(QUEUE, {"view": "mine"})) == [tiers["t1b"].reference]


def test_customer_gets_403(client, customer):
    client.force_login(customer)
    response = client.get(QUEUE)
    assert response.status_code == 403
    assert b"agent workspace is for help-desk staff" in response.content


def test_anonymous_is_sent_to_login(client):
    response = client.get(QUEUE)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_filters(client, make_ticket, agent1):
    other_category = CategoryFactory(name="Hardware", slug="hardware", entry_tier=1)
    urgent = make_ticket(subject="Laptop on fire", priority="urgent", category=other_category)
    normal = make_ticket(subject="Slow Outlook", requester_email="sam@example.org")
    mine = make_ticket(subject="Keyboard sticky")
    core.ticket_claim(ticket=mine, agent=agent1)
    waiting = make_ticket(subject="Need reply")
    core.ticket_claim(ticket=waiting, agent=agent1)
    core.ticket_reply(ticket=waiting, agent=agent1, body="Which model?", pending_customer=True)
    client.force_login(agent1)

    assert refs(client.get(QUEUE, {"priority": "urgent"})) == [urgent.reference]
    assert refs(client.get(QUEUE, {"category": other_category.pk})) == [urgent.reference]
    assert refs(client.get(QUEUE, {"assignee": "none"})) == [
        r for r in refs(client.get(QUEUE)) if r not in (mine.reference, waiting.reference)
    ]
    assert set(refs(client.get(QUEUE, {"assignee": "me"}))) == {mine.reference, waiting.reference}
    assert refs(client.get(QUEUE, {"status": "pending_customer"})) == [waiting.reference]
    # Search: exact reference, requester e-mail, subject text, description text.
    assert refs(client.get(QUEUE, {"q": normal.reference.lower()})) == [normal.reference]
    assert refs(client.get(QUEUE, {"q": "sam@example.org"})) == [normal.reference]
    assert refs(client.get(QUEUE, {"q": "outlook"})) == [normal.reference]
    assert len(refs(client.get(QUEUE, {"q": "password stopped"}))) == 4
    # SLA state: nothing is late yet; two days later the normal ones have breached.
    assert len(refs(client.get(QUEUE, {"sla": "ok"}))) == 4
    assert refs(client.get(QUEUE, {"sla": "breached"})) == []
    # Age
    assert len(refs(client.get(QUEUE, {"age": "1h"}))) == 4
    assert refs(client.get(QUEUE, {"age": "7d"})) == []
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert len(refs(client.get(QUEUE, {"age": "7d"}))) == 4
        assert len(refs(client.get(QUEUE, {"sla": "breached"}))) == 4


def test_unknown_filter_values_are_ignored_with_a_message(client, make_ticket, agent1):
    make_ticket()
    client.force_login(agent1)
    response = client.get(QUEUE, {"sort": "password", "status": "__all__", "category": "x;drop"})
    assert response.status_code == 200
    assert b"Ignored an unknown sort" in response.content
    assert len(refs(response)) == 1


def test_ordered_by_time_left_paused_last(client, make_ticket, agent1):
    normal = make_ticket(subject="normal")
    urgent = make_ticket(subject="urgent", priority="urgent")
    low = make_ticket(subject="low", priority="low")
    paused = make_ticket(subject="paused", priority="urgent")
    core.ticket_reply(ticket=paused, agent=agent1, body="?", pending_customer=True)
    client.force_login(agent1)
    response = client.get(QUEUE)
    assert refs(response) == [urgent.reference, normal.reference, low.reference, paused.reference]
    paused_row = response.context["page"].rows[-1]
    assert paused_row.time_left is None
    assert "waiting for customer" in paused_row.clock_note
    assert b"paused: waiting for customer" in response.content


def test_time_left_turns_red_under_a_quarter_of_the_budget(client, make_ticket, agent1):
    ticket = make_ticket()
    client.force_login(agent1)
    assert b"time-low" not in client.get(QUEUE).content
    budget = ticket.tier_budget
    with time_machine.travel(timezone.now() + budget * 0.8):
        response = client.get(QUEUE)
        assert response.context["page"].rows[0].time_low
        assert b'class="time-low"' in response.content


def _bulk_tickets(n: int, *, tier: int = 1) -> list[Ticket]:
    category = CategoryFactory()
    now = timezone.now()
    tickets = []
    for i in range(n):
        # Some share a deadline (tie broken by id), some are paused (NULL, last).
        escalate_at = None if i % 10 == 0 else now + timedelta(minutes=(i * 7) % 60)
        tickets.append(
            TicketFactory(
                category=category,
                tier=tier,
                escalate_at=escalate_at,
                tier_budget=timedelta(hours=8),
            )
        )
    return tickets


def _expected_order(tickets: list[Ticket]) -> list[str]:
    far = timezone.now() + timedelta(days=10000)
    ordered = sorted(tickets, key=lambda t: (t.escalate_at is None, t.escalate_at or far, t.pk))
    return [t.reference for t in ordered]


@pytest.mark.parametrize("sort", ["time_left", "newest", "oldest"])
def test_keyset_pagination_visits_every_ticket_once(client, agent1, sort):
    tickets = _bulk_tickets(130)
    client.force_login(agent1)
    seen: list[str] = []
    params = {"sort": sort}
    pages = 0
    while True:
        response = client.get(QUEUE, params)
        assert response.status_code == 200
        seen += refs(response)
        pages += 1
        cursor = response.context["next_cursor"]
        if not cursor:
            break
        params = {"sort": sort, "cursor": cursor}
    assert pages == math.ceil(130 / q.PAGE_SIZE)
    assert len(seen) == len(set(seen)) == 130
    if sort == "time_left":
        assert seen == _expected_order(tickets)
    if sort == "oldest":
        assert seen == [t.reference for t in sorted(tickets, key=lambda t: (t.created_at, t.pk))]


def test_tampered_cursor_is_a_400_with_a_message(client, agent1):
    _bulk_tickets(3)
    client.force_login(agent1)
    response = client.get(QUEUE, {"cursor": "not-a-cursor"})
    assert response.status_code == 400
    assert b"no longer valid" in response.content
    assert len(refs(response)) == 3


def test_htmx_poll_returns_rows_with_the_same_filters(client, make_ticket, agent1):
    make_ticket(subject="urgent one", priority="urgent")
    make_ticket(subject="normal one")
    client.force_login(agent1)
    response = client.get(QUEUE, {"priority": "urgent", "partial": "rows"})
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith("<tbody")
    assert "urgent one" in body and "normal one" not in body
    poll = body.split('hx-get="', 1)[1].split('"', 1)[0]
    assert "priority=urgent" in poll and poll.endswith("partial=rows")
    assert 'hx-trigger="every 5s, live"' in body  # polls, and refreshes when the stream says


def test_queue_query_count_with_200_tickets(client, agent1, django_assert_max_num_queries):
    _bulk_tickets(200)
    client.force_login(agent1)
    client.get(QUEUE)  # warm the session
    with django_assert_max_num_queries(12):
        response = client.get(QUEUE)
    assert len(refs(response)) == q.PAGE_SIZE
    with django_assert_max_num_queries(12):
        client.get(
            QUEUE, {"view": "all", "q": "Problem", "cursor": response.context["next_cursor"]}
        )
    with django_assert_max_num_queries(6):
        client.get(QUEUE, {"partial": "rows"})

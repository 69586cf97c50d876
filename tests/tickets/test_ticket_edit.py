"""Agents edit and re-route a ticket: subject, category (with its entry tier rule),
requester; every change is an event, bad input a clear 4xx with nothing written."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import CategoryFactory
from tickets.models import Ticket, TicketEvent
from tickets.services import ticket_escalate
from tickets.services.core import TicketError
from tickets.services.edit import ticket_edit

Kind = TicketEvent.Kind
pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(make_ticket):
    return make_ticket(subject="Cannot log in", requester_email="pat@example.com")


@pytest.fixture
def network(db):
    return CategoryFactory(name="Network", slug="network", entry_tier=2)


def edited(ticket) -> list[dict]:
    return [e.data for e in ticket.events.filter(kind=Kind.EDITED).order_by("pk")]


def test_subject_change_is_an_event_and_searchable(ticket, agent1):
    ticket_edit(ticket=ticket, actor=agent1, subject="Locked out after password change")
    ticket.refresh_from_db()
    assert ticket.subject == "Locked out after password change"
    assert edited(ticket) == [
        {"field": "subject", "from": "Cannot log in", "to": "Locked out after password change"}
    ]
    from tickets.models import ticket_text_contains

    assert Ticket.objects.filter(ticket_text_contains("subject", "password change")).exists()


def test_nothing_changed_writes_nothing(ticket, agent1):
    assert ticket_edit(ticket=ticket, actor=agent1, subject="Cannot log in") == []
    assert edited(ticket) == []


def test_a_new_category_reroutes_an_unescalated_ticket_to_its_entry_tier(ticket, agent1, network):
    ticket_edit(ticket=ticket, actor=agent1, category=network)
    ticket.refresh_from_db()
    assert (ticket.category, ticket.tier, ticket.assignee) == (network, 2, None)
    assert ticket.escalation_count == 0  # a correction, not an escalation
    assert ticket.escalate_at is not None  # a fresh Tier 2 budget
    assert edited(ticket) == [
        {"field": "category", "from": "Password reset", "to": "Network", "tier": [1, 2]}
    ]


def test_an_escalated_ticket_keeps_its_tier(ticket, agent1, agent2, network):
    ticket_escalate(
        ticket=ticket, actor=agent1, symptom="Locked", steps_tried="Reset", findings="AD sync",
    )  # fmt: skip
    ticket.refresh_from_db()
    ticket_edit(ticket=ticket, actor=agent2, category=CategoryFactory(name="Email", entry_tier=1))
    ticket.refresh_from_db()
    assert ticket.tier == 2
    assert "tier" not in edited(ticket)[0]


def test_a_new_requester_gets_a_new_link_and_the_old_one_stops(
    ticket, agent1, client, mailoutbox, django_capture_on_commit_callbacks
):
    old_url = ticket.get_tracking_url()
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_edit(
            ticket=ticket, actor=agent1, requester_name="Sam Lee", requester_email="Sam@Example.com"
        )
    ticket.refresh_from_db()
    assert (ticket.requester_name, ticket.requester_email) == ("Sam Lee", "sam@example.com")
    assert client.get(old_url).status_code == 404
    assert client.get(ticket.get_tracking_url()).status_code == 200
    assert [m.to for m in mailoutbox] == [["sam@example.com"]]
    assert ticket.get_tracking_url() in mailoutbox[0].body
    data = edited(ticket)[0]
    assert data["from"] == "Pat Customer <pat@example.com>" and data["new_link"] is True
    # The edit itself is not shown to the customer.
    assert "Details changed" not in client.get(ticket.get_tracking_url()).content.decode()


def test_a_renamed_requester_keeps_the_link(ticket, agent1):
    token = ticket.tracking_token
    ticket_edit(ticket=ticket, actor=agent1, requester_name="Pat Q. Customer")
    ticket.refresh_from_db()
    assert ticket.tracking_token == token


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"subject": "   "}, "subject"),
        ({"subject": "x" * 201}, "subject"),
        ({"requester_email": "not-an-address"}, "requester_email"),
        ({"requester_name": ""}, "requester_name"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(ticket, agent1, kwargs, field):
    with pytest.raises(TicketError) as exc:
        ticket_edit(ticket=ticket, actor=agent1, **kwargs)
    assert exc.value.field == field
    assert edited(ticket) == []


def test_an_agent_below_the_ticket_tier_cannot_edit(ticket, agent1, agent2, network):
    ticket_edit(ticket=ticket, actor=agent1, category=network)  # now at Tier 2
    from helpdesk.exceptions import ForbiddenError

    with pytest.raises(ForbiddenError):
        ticket_edit(ticket=ticket, actor=agent1, subject="Mine now")


class TestPage:
    def test_edit_through_the_ticket_page(self, ticket, agent1, client, network):
        client.force_login(agent1)
        page = client.get(reverse("tickets:agent-ticket", args=[ticket.reference]))
        assert "Edit details" in page.content.decode()
        response = client.post(
            reverse("tickets:agent-edit", args=[ticket.reference]),
            {"subject": "VPN down", "category": network.pk, "requester_name": "Pat Customer",
             "requester_email": "pat@example.com"},
        )  # fmt: skip
        # Re-routed to Tier 2, out of agent1's sight: back to the queue.
        assert response.status_code == 302 and response["Location"] == reverse(
            "tickets:agent-queue"
        )
        ticket.refresh_from_db()
        assert (ticket.subject, ticket.tier) == ("VPN down", 2)

    def test_a_refused_edit_shows_the_page_again_with_the_message(self, ticket, agent1, client):
        client.force_login(agent1)
        response = client.post(
            reverse("tickets:agent-edit", args=[ticket.reference]),
            {"subject": "Still typed", "requester_name": "Pat", "requester_email": "broken"},
        )
        assert response.status_code == 400
        html = response.content.decode()
        assert "Enter a valid e-mail address." in html and 'value="Still typed"' in html
        ticket.refresh_from_db()
        assert ticket.subject == "Cannot log in"

    def test_a_customer_cannot_post_an_edit(self, ticket, customer, client):
        client.force_login(customer)
        response = client.post(
            reverse("tickets:agent-edit", args=[ticket.reference]), {"subject": "Hacked"}
        )
        assert response.status_code in (302, 403, 404)
        ticket.refresh_from_db()
        assert ticket.subject == "Cannot log in"

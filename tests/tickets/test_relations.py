"""Links between tickets and major incidents: an incident update reaches every linked
requester in one batch; resolving it resolves the children; the queue shows badges."""

from __future__ import annotations

import pytest
from django.db import IntegrityError
from django.urls import reverse

from tickets.models import Ticket, TicketEvent, TicketLink
from tickets.services.core import TicketError
from tickets.services.relations import (
    incident_declare,
    incident_resolve,
    incident_update,
    ticket_link,
    ticket_unlink,
)

Kind = TicketEvent.Kind
pytestmark = pytest.mark.django_db


@pytest.fixture
def outage(make_ticket, agent1):
    parent = make_ticket(subject="E-mail is down for everyone", requester_email="noc@example.com")
    return incident_declare(ticket=parent, actor=agent1)


def children_of(outage, make_ticket, agent1, n: int) -> list[Ticket]:
    made = []
    for i in range(n):
        child = make_ticket(subject=f"No mail {i}", requester_email=f"user{i}@example.com")
        ticket_link(source=child, target=outage, kind="child", actor=agent1)
        made.append(child)
    return made


def test_links_are_recorded_on_both_timelines(make_ticket, agent1):
    a, b = make_ticket(subject="A"), make_ticket(subject="B")
    ticket_link(source=a, target=b, kind="duplicate", actor=agent1)
    assert TicketLink.objects.get().kind == "duplicate"
    assert a.events.filter(kind=Kind.LINKED).get().body == f"Duplicate of: {b.reference}"
    assert b.events.filter(kind=Kind.LINKED).exists()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("itself", "cannot be linked to itself"),
        ("twice", "already linked"),
        ("second_parent", "already part of an incident"),
        ("nested", "is itself part of an incident"),
        ("parent_as_child", "has tickets of its own linked to it"),
        ("bad_kind", "Choose how the tickets are linked"),
    ],
)
def test_impossible_links_are_refused_with_a_reason(make_ticket, agent1, case, message):
    a, b, c = (make_ticket(subject=s) for s in "ABC")
    if case == "itself":
        call = {"source": a, "target": a, "kind": "related"}
    elif case == "twice":
        ticket_link(source=a, target=b, kind="related", actor=agent1)
        call = {"source": b, "target": a, "kind": "duplicate"}
    elif case == "second_parent":
        ticket_link(source=a, target=b, kind="child", actor=agent1)
        call = {"source": a, "target": c, "kind": "child"}
    elif case == "nested":
        ticket_link(source=b, target=c, kind="child", actor=agent1)
        call = {"source": a, "target": b, "kind": "child"}
    elif case == "parent_as_child":
        ticket_link(source=b, target=a, kind="child", actor=agent1)
        call = {"source": a, "target": c, "kind": "child"}
    else:
        call = {"source": a, "target": b, "kind": "cousin"}
    with pytest.raises(TicketError, match=message):
        ticket_link(actor=agent1, **call)


def test_the_database_keeps_one_parent_per_child(make_ticket):
    a, b, c = (make_ticket(subject=s) for s in "ABC")
    TicketLink.objects.create(source=a, target=b, kind="child")
    with pytest.raises(IntegrityError):
        TicketLink.objects.create(source=a, target=c, kind="child")


def test_an_incident_update_reaches_fifty_requesters_in_one_batch(
    outage, make_ticket, agent1, mailoutbox, django_capture_on_commit_callbacks,
    django_assert_max_num_queries,
):  # fmt: skip
    children = children_of(outage, make_ticket, agent1, 50)
    mailoutbox.clear()
    with django_assert_max_num_queries(12):  # the writes, not the e-mails (after commit)
        report = incident_update(parent=outage, actor=agent1, body="Mail is back at 10:40.")
    assert len(report.reached) == 50
    with django_capture_on_commit_callbacks(execute=True):
        incident_update(parent=outage, actor=agent1, body="Root cause: a full disk.")
    told = {address for m in mailoutbox for address in m.to}
    assert told >= {f"user{i}@example.com" for i in range(50)} | {"noc@example.com"}
    assert children[7].events.filter(kind=Kind.REPLY, data__incident=outage.reference).count() == 2


def test_the_customer_reads_the_update_on_their_own_page(outage, make_ticket, agent1, client):
    (child,) = children_of(outage, make_ticket, agent1, 1)
    incident_update(parent=outage, actor=agent1, body="We are on it.")
    assert "We are on it." in client.get(child.get_tracking_url()).content.decode()


def test_an_update_needs_a_declared_incident_and_a_text(make_ticket, agent1, outage):
    with pytest.raises(TicketError, match="major incident first"):
        incident_update(parent=make_ticket(), actor=agent1, body="Hello")
    with pytest.raises(TicketError, match="Write the update first"):
        incident_update(parent=outage, actor=agent1, body="  ")


def test_resolving_the_incident_resolves_its_children(outage, make_ticket, agent1):
    children = children_of(outage, make_ticket, agent1, 3)
    report = incident_resolve(parent=outage, actor=agent1, resolution="Disk replaced.")
    assert sorted(report.resolved) == sorted(c.reference for c in children)
    assert set(Ticket.objects.values_list("status", flat=True)) == {"resolved"}
    child = Ticket.objects.get(pk=children[0].pk)
    assert child.resolution.startswith(f"Resolved with the major incident {outage.reference}")


def test_resolving_without_the_children_leaves_them_open(outage, make_ticket, agent1):
    children_of(outage, make_ticket, agent1, 2)
    incident_resolve(parent=outage, actor=agent1, resolution="Fixed.", with_children=False)
    assert Ticket.objects.filter(status="new").count() == 2


def test_unlink_is_recorded(make_ticket, agent1):
    a, b = make_ticket(subject="A"), make_ticket(subject="B")
    link = ticket_link(source=a, target=b, kind="related", actor=agent1)
    ticket_unlink(link=link, actor=agent1)
    assert not TicketLink.objects.exists()
    assert a.events.filter(kind=Kind.LINKED, data__removed=True).exists()


class TestPages:
    def test_link_and_fan_out_from_the_ticket_page(self, client, agent1, make_ticket, outage):
        child = make_ticket(subject="Outlook offline", requester_email="kim@example.com")
        client.force_login(agent1)
        response = client.post(
            reverse("tickets:agent-link", args=[child.reference]),
            {"target": outage.reference.lower(), "kind": "child"},
        )
        assert response.status_code == 302
        page = client.get(reverse("tickets:agent-ticket", args=[outage.reference])).content.decode()
        assert "Major incident" in page and "1 open ticket part of this incident" in page
        response = client.post(
            reverse("tickets:agent-incident", args=[outage.reference]),
            {"action": "update", "incident_body": "Working on it."},
        )
        assert response.status_code == 302
        assert child.events.filter(kind=Kind.REPLY, body="Working on it.").exists()

    def test_an_unknown_reference_is_a_clear_4xx(self, client, agent1, make_ticket):
        ticket = make_ticket()
        client.force_login(agent1)
        response = client.post(
            reverse("tickets:agent-link", args=[ticket.reference]),
            {"target": "TD-999999", "kind": "related"},
        )
        assert response.status_code == 400
        assert "No ticket has that reference." in response.content.decode()

    def test_the_queue_shows_incident_badges_without_extra_queries(
        self, client, agent1, make_ticket, outage, django_assert_max_num_queries
    ):
        children_of(outage, make_ticket, agent1, 5)
        client.force_login(agent1)
        client.get(reverse("tickets:agent-queue"))
        from helpdesk import cache

        cache.bump(cache.TICKETS)  # rows recomputed, not served from the cache
        with django_assert_max_num_queries(12):
            html = client.get(reverse("tickets:agent-queue")).content.decode()
        assert "Major incident" in html
        assert html.count(f"Part of {outage.reference}") == 5

    def test_a_customer_cannot_link(self, client, customer, make_ticket):
        a, b = make_ticket(subject="A"), make_ticket(subject="B")
        client.force_login(customer)
        response = client.post(
            reverse("tickets:agent-link", args=[a.reference]),
            {"target": b.reference, "kind": "related"},
        )
        assert response.status_code == 403
        assert not TicketLink.objects.exists()

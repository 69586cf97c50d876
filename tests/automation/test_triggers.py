"""The trigger engine: each condition and action kind, on a fixed clock, and the loop
guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from automation.models import TicketTag
from tests.automation.factories import TriggerFactory
from tests.factories import CategoryFactory
from tickets.models import CannedResponse, Notification, Ticket, TicketEvent
from tickets.services import core

pytestmark = pytest.mark.django_db
Kind = TicketEvent.Kind
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fixed_clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def fired(ticket: Ticket) -> list[TicketEvent]:
    return list(ticket.events.filter(kind=Kind.TRIGGER).order_by("id"))


def refreshed(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


# ---------------------------------------------------------------------------
# Conditions
# ---------------------------------------------------------------------------


def test_category_condition(make_ticket, category):
    other = CategoryFactory(name="VPN", slug="vpn")
    TriggerFactory(name="Resets are urgent", categories=[category], set_priority="urgent")
    TriggerFactory(name="VPN is high", categories=[other], set_priority="high")
    ticket = make_ticket()
    assert refreshed(ticket).priority == "urgent"
    assert [e.data["rule"] for e in fired(ticket)] == ["Resets are urgent"]


def test_priority_condition(make_ticket):
    TriggerFactory(priorities=["urgent"], add_tag="hot")
    calm = make_ticket(priority="normal")
    hot = make_ticket(priority="urgent")
    assert not TicketTag.objects.filter(ticket=calm).exists()
    assert list(TicketTag.objects.filter(ticket=hot).values_list("tag__name", flat=True)) == ["hot"]


def test_tier_condition(make_ticket, agent1):
    TriggerFactory(event_kinds=["escalated"], tiers=[2], add_tag="tier2")
    ticket = make_ticket()
    core.ticket_escalate(
        ticket=ticket, actor=agent1, symptom="s", steps_tried="restart", findings="f"
    )
    assert TicketTag.objects.filter(ticket=ticket, tag__name="tier2").exists()
    first = make_ticket(subject="stays at tier 1")
    core.ticket_add_note(ticket=first, agent=agent1, body="x")
    assert not TicketTag.objects.filter(ticket=first).exists()


def test_requester_domain_condition_matches_subdomains_only(make_ticket):
    TriggerFactory(requester_domain="acme.com", add_tag="acme")
    yes = make_ticket(requester_email="ann@acme.com")
    sub = make_ticket(requester_email="bob@eu.acme.com")
    no = make_ticket(requester_email="eve@notacme.com")
    tagged = set(TicketTag.objects.values_list("ticket_id", flat=True))
    assert tagged == {yes.pk, sub.pk} and no.pk not in tagged


def test_text_condition_reads_subject_and_description(make_ticket):
    TriggerFactory(text_contains="VPN", add_tag="vpn")
    by_subject = make_ticket(subject="vpn drops every hour")
    by_body = make_ticket(description="The VPN client says error 809")
    neither = make_ticket(subject="Printer", description="jammed")
    tagged = set(TicketTag.objects.values_list("ticket_id", flat=True))
    assert tagged == {by_subject.pk, by_body.pk} and neither.pk not in tagged


def test_time_in_status_condition(make_ticket, agent1, _fixed_clock):
    TriggerFactory(event_kinds=["customer_reply"], min_minutes_in_status=120, set_priority="high")
    ticket = make_ticket()
    core.ticket_reply(ticket=ticket, agent=agent1, body="Try this", pending_customer=True)
    _fixed_clock.shift(timedelta(minutes=30))
    core.ticket_customer_reply(ticket=ticket, body="did not help")  # 30 min waiting
    assert refreshed(ticket).priority == "normal"
    core.ticket_reply(ticket=ticket, agent=agent1, body="Another idea", pending_customer=True)
    _fixed_clock.shift(timedelta(hours=3))
    core.ticket_customer_reply(ticket=ticket, body="still broken")  # 3 h waiting
    assert refreshed(ticket).priority == "high"


# ---------------------------------------------------------------------------
# Actions
# ---------------------------------------------------------------------------


def test_set_priority_rebudgets_and_is_on_the_timeline(make_ticket):
    TriggerFactory(name="Urgent words", text_contains="outage", set_priority="urgent")
    calm = make_ticket(subject="Question")
    ticket = make_ticket(subject="Total outage")
    ticket, calm = refreshed(ticket), refreshed(calm)
    assert ticket.priority == "urgent"
    assert ticket.escalate_at < calm.escalate_at  # the urgent budget is shorter
    change = ticket.events.get(kind=Kind.PRIORITY)
    assert change.actor_name == "Rule: Urgent words" and change.data["rule"] == "Urgent words"
    (record,) = fired(ticket)
    assert "Urgent words" in record.body and "priority" in record.body


def test_set_category(make_ticket):
    network = CategoryFactory(name="Network", slug="network")
    TriggerFactory(text_contains="wifi", set_category=network)
    ticket = make_ticket(subject="wifi is down")
    assert refreshed(ticket).category == network
    assert "Network" in ticket.events.get(kind=Kind.CATEGORY).body


def test_assign_to_an_agent_who_may_hold_it(make_ticket, agent1):
    TriggerFactory(name="To agent1", assign_to=agent1)
    ticket = refreshed(make_ticket())
    assert ticket.assignee == agent1 and ticket.status == "open"
    assert ticket.events.get(kind=Kind.ASSIGNED).data["rule"] == "To agent1"


def test_assign_refuses_an_agent_below_the_tier(make_ticket, agent1):
    tier2 = CategoryFactory(name="Servers", slug="servers", entry_tier=2)
    TriggerFactory(assign_to=agent1)
    ticket = refreshed(make_ticket(category=tier2))
    assert ticket.assignee is None
    assert "could not assign" in fired(ticket)[0].body


def test_add_tag(make_ticket):
    TriggerFactory(add_tag="password")
    ticket = make_ticket()
    assert ticket.events.get(kind=Kind.TAGS).data == {"added": ["password"]}


def test_canned_reply_is_public_and_mails_the_customer(
    make_ticket, django_capture_on_commit_callbacks
):
    canned = CannedResponse.objects.create(
        title="Ack", body="Hello {{ requester_name }}, we have {{ reference }}.", tier=1
    )
    TriggerFactory(name="Acknowledge", canned_reply=canned)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket = refreshed(make_ticket())
    reply = ticket.events.get(kind=Kind.REPLY)
    assert reply.is_public and reply.body == f"Hello Pat Customer, we have {ticket.reference}."
    assert reply.actor_name == "Help desk" and reply.data["rule"] == "Acknowledge"
    assert ticket.first_response_at is None  # an automatic answer is not a response
    (sent,) = [m for m in mail.outbox if f"we have {ticket.reference}" in m.body]
    assert "Our help desk replied" in sent.body and "Acknowledge" not in sent.body


def test_notify_rings_the_bell_and_mails(make_ticket, agent2, django_capture_on_commit_callbacks):
    TriggerFactory(name="Page tier 2", priorities=["urgent"], notify_users=[agent2])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(priority="urgent")
    note = Notification.objects.get(user=agent2)
    assert note.ticket_id == ticket.pk
    assert any(agent2.email in m.to for m in mail.outbox)


def test_webhook_goes_through_the_delivery_log_and_its_egress_guard(
    make_ticket, django_capture_on_commit_callbacks
):
    """The rule queues the integrations' own delivery: signed, logged, and refused
    without a connection when the URL leads inside the network."""
    from integrations.models import Webhook, WebhookDelivery

    hook = Webhook.objects.create(name="pager", url="http://127.0.0.1:9/in", events=[])
    TriggerFactory(name="Call pager", webhook=hook)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert delivery.event_type == "trigger.fired"
    assert delivery.payload["event"]["rule"] == "Call pager"
    assert delivery.payload["ticket"]["reference"] == ticket.reference
    assert not delivery.succeeded and "internal" in delivery.error.lower()


def test_inactive_rules_and_other_kinds_do_nothing(make_ticket):
    TriggerFactory(is_active=False, add_tag="off")
    TriggerFactory(event_kinds=["resolved"], add_tag="later")
    ticket = make_ticket()
    assert not TicketTag.objects.filter(ticket=ticket).exists() and not fired(ticket)


def test_a_rule_with_nothing_left_to_do_is_not_recorded(make_ticket, agent1):
    TriggerFactory(event_kinds=["created", "note"], add_tag="seen")
    ticket = make_ticket()
    core.ticket_add_note(ticket=ticket, agent=agent1, body="again")
    assert len(fired(ticket)) == 1


# ---------------------------------------------------------------------------
# Loops
# ---------------------------------------------------------------------------


def test_rules_that_undo_each_other_fire_once_and_say_why_they_stopped(
    make_ticket, category, agent1
):
    """Urgent moves the ticket to Network, Network makes it high, high moves it back,
    and back makes it urgent again: a cycle. Each rule runs once; the first one to
    come round again is stopped, and the timeline names it."""
    network = CategoryFactory(name="Network", slug="network")
    on_priority, on_category = ["priority"], ["category"]
    TriggerFactory(name="A", event_kinds=on_priority, priorities=["urgent"], set_category=network)
    TriggerFactory(name="B", event_kinds=on_category, categories=[network], set_priority="high")
    TriggerFactory(name="C", event_kinds=on_priority, priorities=["high"], set_category=category)
    TriggerFactory(name="D", event_kinds=on_category, categories=[category], set_priority="urgent")
    ticket = make_ticket()
    core.ticket_change_priority(ticket=ticket, actor=agent1, priority="urgent")
    ticket = refreshed(ticket)
    records = fired(ticket)
    assert [e.data["rule"] for e in records if not e.data.get("stopped")] == ["D", "C", "B", "A"]
    (stopped,) = [e for e in records if e.data.get("stopped")]
    assert stopped.data["rule"] == "A" and stopped.actor_name == "Rule: A"
    assert "matched again and was not run" in stopped.body
    assert "started with event" in stopped.body
    # Settled where the last rule left it, and four changes, not an endless stream.
    assert (ticket.priority, ticket.category) == ("urgent", category)
    assert ticket.events.filter(kind=Kind.PRIORITY).count() == 3  # agent, B, D
    # A later change starts a new chain: the rules may run again.
    core.ticket_change_priority(ticket=ticket, actor=agent1, priority="low")
    core.ticket_change_priority(ticket=ticket, actor=agent1, priority="urgent")
    assert len(fired(ticket)) > len(records)


def test_a_rule_answering_its_own_reply_runs_once(make_ticket, agent1):
    canned = CannedResponse.objects.create(title="Ack", body="Thanks!", tier=1)
    TriggerFactory(name="Echo", event_kinds=["reply"], canned_reply=canned)
    ticket = make_ticket()
    core.ticket_reply(ticket=ticket, agent=agent1, body="Hello")
    assert ticket.events.filter(kind=Kind.REPLY).count() == 2
    assert [e.data.get("stopped", False) for e in fired(ticket)] == [True, False]


def test_a_rule_that_cannot_run_never_fails_the_change_and_keeps_nothing(make_ticket, agent1):
    from automation.services import MAX_TAGS_PER_TICKET, ticket_tags_add

    TriggerFactory(name="Too many", event_kinds=["note"], set_priority="urgent", add_tag="one-more")
    ticket = make_ticket()
    ticket_tags_add(
        ticket=ticket, actor=agent1, names=[f"t{n}" for n in range(MAX_TAGS_PER_TICKET)]
    )
    note = core.ticket_add_note(ticket=ticket, agent=agent1, body="still written")
    ticket = refreshed(ticket)
    assert note.pk and ticket.priority == "normal"  # the rule's first action was undone
    assert not ticket.events.filter(kind=Kind.PRIORITY).exists()
    (failed,) = fired(ticket)
    assert failed.data["failed"] and "at most 20 tags" in failed.body
    assert "Nothing it did was kept" in failed.body


# ---------------------------------------------------------------------------
# Events the escalation sweep writes in batches
# ---------------------------------------------------------------------------


def test_a_rule_on_timer_promotions_runs_for_the_sweeps_batches(
    make_ticket, _fixed_clock, django_capture_on_commit_callbacks
):
    """The sweep promotes with compare-and-set and writes its events in one batch; the
    rules listening to them run after that commit, on the row as the sweep left it."""
    from tiers.services import escalation_sweep

    TriggerFactory(name="Timer escalations", event_kinds=["promoted"], add_tag="timer")
    tickets = [make_ticket(subject=f"Issue {i}", priority="normal") for i in range(3)]
    _fixed_clock.move_to(T0 + timedelta(hours=8))
    with django_capture_on_commit_callbacks(execute=True):
        report = escalation_sweep(now=T0 + timedelta(hours=8), batch=10)
    assert len(report.promoted) == 3
    for ticket in tickets:
        assert refreshed(ticket).tier == 2
        assert list(
            TicketTag.objects.filter(ticket=ticket).values_list("tag__name", flat=True)
        ) == ["timer"]
        assert [e.data.get("rule") for e in fired(ticket)] == ["Timer escalations"]


def test_no_rule_listening_costs_the_sweep_nothing_after_commit(
    make_ticket, _fixed_clock, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    from automation.engine import on_batch_committed
    from tickets.models import TicketEvent as Event

    TriggerFactory(event_kinds=["created"], add_tag="new")
    ticket = make_ticket()
    promoted = Event(ticket_id=ticket.pk, kind=Kind.PROMOTED)
    on_batch_committed([promoted])  # warm the rule memo
    with django_assert_max_num_queries(0):
        on_batch_committed([promoted])

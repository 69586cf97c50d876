"""Journey 3, manual escalation with a hand-off: agent1 escalates with a summary;
agent2 reads it pinned at the top of the ticket, asks the customer a question (waiting
for the customer pauses the tier clock), the customer answers (the clock runs again,
its deadline moved by the pause), and agent2 resolves it at Tier 2."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.stack import login, submit_ticket
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_manual_escalation_with_handoff(new_page, demo):
    customer = new_page()
    ticket = submit_ticket(
        customer,
        name="Robin Requester",
        email="robin@example.com",
        category="Access rights",
        subject="No access to the Finance share",
        description="Since Monday the Finance share says access denied.",
    )
    customer.get_by_role("link", name="Follow my ticket").click()
    tracking_url = customer.url

    # --- agent1 tries, then escalates with a structured hand-off -------------------
    agent1 = new_page()
    login(agent1, "agent1")
    agent1.goto(f"/agent/tickets/{ticket.reference}/")
    agent1.get_by_role("button", name="Claim").click()
    expect(agent1.get_by_text("You claimed the ticket.")).to_be_visible()
    agent1.locator("summary", has_text="Escalate to Tier 2").click()
    agent1.get_by_label("Symptom").fill("Access denied on \\\\fs01\\finance since Monday")
    agent1.get_by_label("Steps tried").fill("Checked group membership; re-logged; cleared cache")
    agent1.get_by_label("Findings").fill("Group is right: the share ACL changed over the weekend")
    agent1.get_by_role("button", name="Escalate").click()
    expect(agent1.get_by_text("Escalated with your hand-off.")).to_be_visible()

    # --- agent2 reads the hand-off first, then asks the customer --------------------
    agent2 = new_page()
    login(agent2, "agent2")
    agent2.locator(f'tr[data-reference="{ticket.reference}"] a.queue-link').click()
    pinned = agent2.get_by_test_id("pinned-handoff")
    expect(pinned).to_contain_text("Hand-off from Tier 1 by agent1")
    expect(pinned).to_contain_text("the share ACL changed over the weekend")
    assert pinned.bounding_box()["y"] < agent2.locator("ol.timeline").bounding_box()["y"]
    agent2.get_by_role("button", name="Claim").click()
    expect(agent2.get_by_text("You claimed the ticket.")).to_be_visible()
    agent2.get_by_label("Message").fill("Which folder inside Finance do you need, and since when?")
    agent2.get_by_label("Wait for the customer (pauses the tier clock)").check()
    agent2.get_by_role("button", name="Post reply").click()
    # agent1 had the ticket open seconds ago (presence lasts 30 s): the first send
    # stops to show who else is on the ticket, and the second one confirms.
    expect(agent2.get_by_test_id("collision")).to_contain_text("Also viewing this ticket: agent1")
    expect(agent2.get_by_label("Wait for the customer (pauses the tier clock)")).to_be_checked()
    agent2.get_by_role("button", name="Post reply").click()
    expect(agent2.get_by_text("Reply sent. Waiting for the customer.")).to_be_visible()
    expect(agent2.locator(".clocks")).to_contain_text("paused: waiting for customer")

    paused = Ticket.objects.get(pk=ticket.pk)
    assert (paused.tier, paused.status) == (2, Ticket.Status.PENDING_CUSTOMER)
    assert paused.escalate_at is None and paused.clock_paused_at is not None

    # --- the customer answers on the tracking page -----------------------------------
    customer.goto(tracking_url)
    expect(customer.get_by_text("We are waiting for your answer")).to_be_visible()
    expect(customer.locator(".timeline")).to_contain_text("Which folder inside Finance")
    customer.get_by_label("Your reply").fill("Finance/Budgets, since Monday morning.")
    customer.get_by_role("button", name="Post reply").click()
    expect(customer.get_by_text("Your reply was sent")).to_be_visible()

    resumed = Ticket.objects.get(pk=ticket.pk)
    assert resumed.status == Ticket.Status.OPEN and resumed.clock_paused_at is None
    # The deadline moved by exactly the time spent waiting for the customer.
    assert resumed.paused_business_time > timedelta(0)
    planned = paused.tier_entered_at + paused.tier_budget
    assert abs(resumed.escalate_at - planned - resumed.paused_business_time) < timedelta(seconds=1)

    # --- agent2 sees the answer and resolves at Tier 2 -------------------------------
    agent2.reload()
    expect(agent2.locator("ol.timeline")).to_contain_text("Finance/Budgets, since Monday")
    agent2.locator("summary", has_text="Resolve").click()
    agent2.get_by_label("Resolution", exact=True).fill(
        "Restored the Budgets ACL entry for the group."
    )
    agent2.get_by_role("button", name="Resolve", exact=True).click()
    expect(agent2.get_by_text("Resolved.", exact=True)).to_be_visible()

    done = Ticket.objects.get(pk=ticket.pk)
    assert (done.status, done.resolved_tier, done.escalation_count) == ("resolved", 2, 1)
    assert not done.first_contact_resolution
    kinds = list(done.events.order_by("id").values_list("kind", flat=True))
    assert kinds[0] == "created" and kinds[-1] == "resolved"
    assert "escalated" in kinds and "customer_reply" in kinds

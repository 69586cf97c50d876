"""Journey 2, climb by timer: a customer reports a network fault and nobody acts. The
real Celery beat + worker sweep promotes it Tier 1 → 2 → 3 on their own; agent2 and
agent3 watch it arrive in their queues (the queue refreshes itself), read on the
ticket what happened and why, and get the worker's notification e-mail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.stack import login, mail_to, shorten_budgets, submit_ticket, wait_until
from tickets.models import Ticket, TicketEvent

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# Tier 1 gives up after 2 s. Tier 2 holds it 15 s: long enough for agent2's queue
# (it refreshes every 5 s) to show it arriving and for agent2 to open it before it
# climbs on (a Tier 2 agent no longer sees a Tier 3 ticket). Tier 3 keeps its seeded
# budget (hours): the climb stops with agent3.
TIER1_SECONDS, TIER2_SECONDS = 2, 15


def test_unattended_ticket_climbs_tier1_to_tier3(new_page, demo, celery_stack):
    shorten_budgets(tier1=TIER1_SECONDS, tier2=TIER2_SECONDS)
    agent2, agent3 = new_page(), new_page()
    login(agent2, "agent2")
    login(agent3, "agent3")
    expect(agent2.get_by_role("heading", name="Tier 2 queue")).to_be_visible()
    expect(agent3.get_by_role("heading", name="Tier 3 queue")).to_be_visible()

    customer = new_page()
    ticket = submit_ticket(
        customer,
        name="Noor Network",
        email="noor@example.com",
        category="Endpoint management",
        subject="Laptop drops off the office network every few minutes",
        description="Wi-Fi and the wired dock both drop; colleagues are fine.",
    )
    assert ticket.tier == 1 and ticket.assignee is None
    ref = ticket.reference

    # --- Tier 2: the ticket appears in agent2's open queue without a reload ---------
    row2 = agent2.locator(f'tr[data-reference="{ref}"]')
    # The first sweep waits for the worker and beat to start (seconds on a busy machine).
    expect(row2).to_be_visible(timeout=45_000)
    at_tier2 = Ticket.objects.get(pk=ticket.pk)
    assert at_tier2.tier == 2 and at_tier2.assignee is None
    row2.locator("a.queue-link").click()
    timeline = agent2.locator("ol.timeline")
    promoted = timeline.locator("li.event-promoted")
    expect(promoted).to_have_count(1)
    expect(promoted).to_contain_text(
        f"Tier 1 budget of {timedelta(seconds=TIER1_SECONDS)} exceeded"
    )
    expect(promoted).to_contain_text("promoted to Tier 2")
    expect(timeline.locator("li.event-created")).to_contain_text("colleagues are fine")

    # --- Tier 3: nobody claimed it at Tier 2 either -----------------------------------
    row3 = agent3.locator(f'tr[data-reference="{ref}"]')
    expect(row3).to_be_visible(timeout=TIER2_SECONDS * 1000 + 20_000)
    row3.locator("a.queue-link").click()
    promoted = agent3.locator("ol.timeline li.event-promoted")
    expect(promoted).to_have_count(2)
    expect(promoted.nth(1)).to_contain_text(
        f"Tier 2 budget of {timedelta(seconds=TIER2_SECONDS)} exceeded"
    )
    expect(promoted.nth(1)).to_contain_text("promoted to Tier 3")
    expect(agent3.get_by_role("button", name="Claim")).to_be_visible()

    at_tier3 = Ticket.objects.get(pk=ticket.pk)
    assert (at_tier3.tier, at_tier3.escalation_count, at_tier3.status) == (3, 2, "new")
    # One promotion per deadline, however often the sweep ran meanwhile.
    moves = list(
        at_tier3.events.filter(kind=TicketEvent.Kind.PROMOTED)
        .order_by("id")
        .values_list("data__from_tier", "data__to_tier")
    )
    assert moves == [(1, 2), (2, 3)]

    # The worker told each tier's agents, by e-mail.
    mail = celery_stack["mail_dir"]
    for address in ("agent2@tierdesk.local", "agent3@tierdesk.local"):
        wait_until(
            lambda a=address: any(ref in m for m in mail_to(mail, a)),
            timeout=20,
            message=f"the worker's e-mail about {ref} to {address}",
        )

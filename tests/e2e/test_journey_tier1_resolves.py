"""Journey 1, Tier 1 resolves: a customer searches the KB, submits a password-reset
ticket; agent1 claims it, replies with a canned response and resolves it with a KB
article; the customer reads the reply on the tracking page and rates it 5; the
manager's dashboard counts a first-contact resolution."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.stack import login
from tickets.models import Category, SatisfactionRating, Ticket
from tickets.services import core

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


# Other customers' tickets already waiting, so the queue looks like a working day.
BACKGROUND = [
    ("account-unlock", "Locked out after the holidays", "urgent", "Sam Sales"),
    ("microsoft-365", "Outlook keeps asking for my password", "high", "Ana Accounts"),
    ("access-rights", "New starter needs the HR app", "low", "Lee Lead"),
]


def test_tier1_resolves_at_first_contact(new_page, demo):
    for slug, subject, priority, name in BACKGROUND:
        core.ticket_create(
            category=Category.objects.get(slug=slug),
            subject=subject,
            description=f"{subject}.",
            requester_name=name,
            requester_email=f"{name.split()[0].lower()}@example.com",
            priority=priority,
        )
    # --- the customer looks in the KB first ---------------------------------------
    customer = new_page()
    login(customer, "customer")
    customer.goto("/")
    expect(customer.get_by_role("heading", name="How can we help?")).to_be_visible()
    customer.get_by_label("Search help articles").fill("reset password")
    customer.get_by_role("button", name="Search").click()
    expect(customer.get_by_role("link", name="Reset your password").first).to_be_visible()

    # --- … then asks for help; the form suggests the article while they type ------
    customer.goto("/tickets/new/")
    customer.get_by_label("What is it about?").select_option(label="Password reset")
    customer.get_by_label("Subject").fill("Password expired")
    customer.get_by_label("Describe the problem").press_sequentially(
        "My password expired and I cannot reset my password", delay=10
    )
    suggestions = customer.locator("#suggestions")
    expect(suggestions.get_by_role("link", name="Reset your password")).to_be_visible()
    customer.get_by_role("button", name="Submit ticket").click()
    expect(customer.get_by_role("heading", name="Thank you, we have your ticket")).to_be_visible()
    ticket = Ticket.objects.get(subject="Password expired")
    assert (ticket.tier, ticket.requester_email) == (1, "customer@example.com")
    customer.get_by_role("link", name="Follow my ticket").click()
    expect(customer.locator("h1 .reference")).to_have_text(ticket.reference)
    tracking_url = customer.url

    # --- agent1 claims it, answers with the canned reply, resolves with the article -
    agent = new_page()
    login(agent, "agent1")
    row = agent.locator(f'tr[data-reference="{ticket.reference}"]')
    expect(row).to_contain_text("Password expired")
    row.get_by_role("button", name="Claim").click()
    expect(agent.get_by_text("You claimed the ticket.")).to_be_visible()
    agent.get_by_label("Canned response").select_option(label="Password reset instructions")
    # The canned text lands in the message box, addressed to the customer by name.
    expect(agent.get_by_label("Message")).to_have_value(
        re.compile(r"Chris.*Forgot password\?", re.S)
    )
    agent.get_by_role("button", name="Post reply").click()
    expect(agent.get_by_text("Reply sent.")).to_be_visible()
    agent.locator("summary", has_text="Resolve").click()
    agent.get_by_label("Resolution", exact=True).fill(
        "Explained the self-service reset; it worked."
    )
    agent.locator("#resolve").get_by_label("Search the knowledge base").fill("reset password")
    solved = agent.get_by_label("KB article that solved it (optional)")
    expect(solved.locator("option", has_text="Reset your password")).to_have_count(1)
    solved.select_option(label="Reset your password")
    agent.get_by_role("button", name="Resolve", exact=True).click()
    expect(agent.get_by_text("Resolved.", exact=True)).to_be_visible()
    expect(agent.get_by_test_id("fcr")).to_have_text("First-contact resolution")

    # --- the customer reads the answer and rates it --------------------------------
    customer.goto(tracking_url)
    expect(customer.locator(".timeline .event-reply")).to_contain_text("Forgot password?")
    expect(customer.get_by_role("link", name="Reset your password")).to_be_visible()
    customer.get_by_label("5 · Excellent").check()
    customer.get_by_role("button", name="Send rating").click()
    expect(customer.get_by_text("You rated our help 5 out of 5")).to_be_visible()

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED
    assert ticket.first_contact_resolution and ticket.resolved_tier == 1
    assert ticket.resolved_article.slug == "reset-your-password"
    assert SatisfactionRating.objects.get(ticket=ticket).rating == 5

    # --- the manager's dashboard counts it -----------------------------------------
    manager = new_page()
    login(manager, "manager")
    manager.goto("/dashboard/")
    expect(manager.locator("[data-figure=resolved]")).to_have_text("1")
    expect(manager.locator("[data-figure=fcr]")).to_have_text("100.0%")
    expect(manager.locator("[data-figure=tier1]")).to_have_text("100.0%")
    expect(manager.locator("[data-figure=csat]")).to_have_text("5.0 / 5")

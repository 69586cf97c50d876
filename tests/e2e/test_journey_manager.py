"""Journey 5, manager view: after a week like journeys 1–4 (a first-contact resolution
rated 5, a ticket that climbed to Tier 3 by timer and is still open, a manual
escalation resolved at Tier 2, a vendor hand-off resolved at Tier 3), the manager sees
them in the dashboard's figures and tables, every chart drawn, and exports CSV.

Each journey runs on an empty database, so this one builds that week through the
same services the pages call (journeys 1–4 drive them in the browser), and lets the
real escalation sweep do the climbing."""

from __future__ import annotations

import csv

import pytest
from playwright.sync_api import expect

from helpdesk.demo_data import POLICIES
from knowledgebase.models import Article
from tests.e2e.stack import (
    assert_charts_drawn,
    login,
    shorten_budgets,
    wait_until,
)
from tickets.models import Category, Ticket
from tickets.services import core
from tickets.services.portal import csat_submit
from tiers import services as tier_services
from tiers.models import EscalationPolicy, VendorHandoff

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _new(slug: str, subject: str) -> Ticket:
    return core.ticket_create(
        category=Category.objects.get(slug=slug),
        subject=subject,
        description=f"{subject}: please help.",
        requester_name="Chris Customer",
        requester_email="customer@example.com",
    )


def _the_week(users: dict) -> dict[str, Ticket]:
    agent1, agent2, agent3 = users["agent1"], users["agent2"], users["agent3"]

    # Journey 2: nobody acts; the sweep promotes it Tier 1 → 2 → 3 (budgets of 1 s).
    shorten_budgets(tier1=1, tier2=1)
    climbed = _new("endpoint-management", "Laptop drops off the network")
    wait_until(
        lambda: tier_services.escalation_sweep() and Ticket.objects.get(pk=climbed.pk).tier == 3,
        timeout=20,
        message="the sweep to promote the ticket to Tier 3",
    )
    for tier in (1, 2):  # the seeded budgets again, so nothing else climbs
        for priority, budget in POLICIES[tier].items():
            EscalationPolicy.objects.filter(tier=tier, priority=priority).update(budget=budget)

    # Journey 1: resolved at first contact with the KB article, rated 5.
    fcr = _new("password-reset", "Password expired")
    core.ticket_claim(ticket=fcr, agent=agent1)
    core.ticket_reply(ticket=fcr, agent=agent1, body="Use Forgot password? on the sign-in page.")
    core.ticket_resolve(
        ticket=fcr,
        actor=agent1,
        resolution="Self-service reset.",
        article=Article.objects.get(slug="reset-your-password"),
    )
    csat_submit(ticket=fcr, rating=5)

    # Journey 3: escalated by hand, the customer asked, resolved at Tier 2.
    manual = _new("access-rights", "No access to the Finance share")
    core.ticket_claim(ticket=manual, agent=agent1)
    core.ticket_escalate(
        ticket=manual, actor=agent1, symptom="Access denied", steps_tried="Groups", findings="ACL"
    )
    core.ticket_claim(ticket=manual, agent=agent2)
    core.ticket_reply(ticket=manual, agent=agent2, body="Which folder?", pending_customer=True)
    core.ticket_customer_reply(ticket=manual, body="Budgets.")
    core.ticket_resolve(ticket=manual, actor=agent2, resolution="ACL restored.")

    # Journey 4: handed to the vendor, who finished; resolved at Tier 3.
    vendor = _new("firmware-security-updates", "Dock firmware disables USB-C")
    core.ticket_claim(ticket=vendor, agent=agent3)
    handoff = tier_services.vendor_handoff(ticket=vendor, actor=agent3, summary="Firmware 4.2.")
    tier_services.vendor_post_update(handoff=handoff, body="Fixed in 4.2.1.", vendor_reference="NW")
    tier_services.vendor_mark_done(handoff=VendorHandoff.objects.get(pk=handoff.pk))
    core.ticket_resolve(ticket=vendor, actor=agent3, resolution="4.2.1 installed.")
    return {"climbed": climbed, "fcr": fcr, "manual": manual, "vendor": vendor}


def test_manager_sees_the_week_and_exports_csv(new_page, demo):
    _the_week(demo)

    page = new_page()
    login(page, "manager")
    page.goto("/dashboard/")
    expect(page.get_by_role("heading", name="Resolution dashboard")).to_be_visible()
    figures = {
        "created": "4",  # one ticket per journey
        "resolved": "3",
        "open": "1",  # the one that climbed to Tier 3 and waits there
        "tier1": "33.3%",  # 1 resolved at Tier 1, 2 escalated from it
        "fcr": "33.3%",  # journey 1's, of 3 resolutions
        "csat": "5.0 / 5",
    }
    for name, value in figures.items():
        expect(page.locator(f"[data-figure={name}]")).to_have_text(value)
    expect(page.get_by_text("(1 resolved, 2 escalated)")).to_be_visible()
    steps = page.locator("table", has_text="Left the tier").locator("tbody tr")
    expect(steps.nth(0).locator("td")).to_have_text(["Tier 1→2", "2", "3", "66.7%"])
    expect(steps.nth(1).locator("td")).to_have_text(["Tier 2→3", "1", "2", "50.0%"])
    expect(steps.nth(2).locator("td")).to_have_text(["Tier 3→4", "1", "2", "50.0%"])
    backlog = page.locator("table", has_text="Tier 4").filter(has_text="Open").first
    expect(backlog.locator("tbody td")).to_have_text(["Open", "0", "0", "1", "0"])

    vendor = page.locator("section[aria-labelledby=vendors-title] tbody tr")
    expect(vendor).to_have_count(1)
    expect(vendor.locator("td").nth(0)).to_contain_text("Northwind Hardware")
    expect(vendor.locator("td").nth(1)).to_have_text("1")
    agents = page.locator("section[aria-labelledby=agents-title] tbody tr")
    for username in ("agent1", "agent2", "agent3"):  # each resolved one ticket
        expect(agents.filter(has_text=f"({username})").locator("td").nth(3)).to_have_text("1")
    article = page.locator("table", has_text="Deflected").locator("tbody tr")
    expect(article.filter(has_text="Reset your password").locator("td").nth(1)).to_have_text("1")

    # Every chart is drawn: Chart.js rendered it, and the canvas is not blank.
    assert_charts_drawn(page)

    # CSV: the whole dashboard, and one table, as downloads.
    with page.expect_download() as whole:
        page.get_by_role("link", name="Whole dashboard as CSV").click()
    assert whole.value.suggested_filename.endswith(".csv")
    rows = _csv(whole.value)
    headline = {field: value for section, field, value in rows if section == "headline"}
    assert headline["created"] == "4" and headline["resolved"] == "3"
    assert headline["first_contact_rate"] == "0.3333" and headline["csat_average"] == "5.0"
    with page.expect_download() as table:
        page.locator("a", has_text="Download CSV").first.click()
    assert "escalations" in table.value.suggested_filename
    escalations = _csv(table.value)
    assert escalations == [
        ["step", "escalated", "left_tier", "rate"],
        ["1→2", "2", "3", "0.6667"],
        ["2→3", "1", "2", "0.5"],
        ["3→4", "1", "2", "0.5"],
    ]


def _csv(download) -> list[list[str]]:
    with open(download.path(), encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))

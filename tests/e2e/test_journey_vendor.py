"""Journey 4, vendor hand-off: a firmware issue (its category enters at Tier 3 and is
covered by the demo vendor) reaches agent3, who hands it to the vendor. The vendor
opens the link from the e-mail it received, posts an update with its own ticket
number and marks its part done; agent3, still accountable, resolves the ticket. Once
the manager revokes the link in the admin, it answers 403."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.stack import login, submit_ticket
from tickets.models import Ticket
from tiers.models import VendorHandoff

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

VENDOR_EMAIL = "support@northwind-hw.example"


def test_vendor_handoff_and_revoked_link(new_page, demo, live_server, settings, mailoutbox):
    settings.SITE_URL = live_server.url  # links in e-mails point at this server
    customer = new_page()
    ticket = submit_ticket(
        customer,
        name="Kim Kiosk",
        email="kim@example.com",
        category="Firmware and security updates",
        subject="Dock firmware 4.2 disables the USB-C ports",
        description="After the vendor's firmware 4.2 update our docks stop charging laptops.",
    )
    assert ticket.tier == 3

    # --- agent3 takes it and hands it to the vendor ----------------------------------
    agent3 = new_page()
    login(agent3, "agent3")
    agent3.goto(f"/agent/tickets/{ticket.reference}/")
    agent3.get_by_role("button", name="Claim").click()
    expect(agent3.get_by_text("You claimed the ticket.")).to_be_visible()
    agent3.locator("summary", has_text="Hand off to vendor").click()
    agent3.get_by_label("Summary for the vendor").fill(
        "Firmware 4.2 on the WD-19 docks disables USB-C power delivery. Rolled back one "
        "dock to 4.1 and it works. Please confirm and ship a fixed firmware."
    )
    agent3.get_by_role("button", name="Hand off to vendor").click()
    expect(agent3.get_by_text("Handed to Northwind Hardware")).to_be_visible()
    handed = Ticket.objects.get(pk=ticket.pk)
    assert (handed.tier, handed.status, handed.owner.username) == (4, "pending_vendor", "agent3")

    # --- the vendor opens the link from its e-mail (no account) ----------------------
    (message,) = [m for m in mailoutbox if VENDOR_EMAIL in m.to]
    assert ticket.reference in message.subject
    link = re.search(rf"{re.escape(live_server.url)}/vendor/\S+/", message.body).group(0)
    vendor = new_page()
    vendor.goto(link)
    expect(vendor.locator("h1")).to_contain_text(ticket.reference)
    expect(vendor.locator(".vendor-summary")).to_contain_text("Rolled back one dock to 4.1")
    vendor.get_by_label("Your update").fill("Confirmed: known issue NW-4471. Fixed build 4.2.1.")
    vendor.get_by_label("Your ticket number").fill("NW-4471")
    vendor.get_by_role("button", name="Post update").click()
    expect(vendor.get_by_text("Your update was posted.")).to_be_visible()
    expect(vendor.locator(".timeline")).to_contain_text("Fixed build 4.2.1")
    vendor.get_by_label("Closing note (optional)").fill("Install 4.2.1 from our portal.")
    vendor.get_by_role("button", name="Mark our part done").click()
    expect(vendor.get_by_text("Thank you. Our engineers take it from here.")).to_be_visible()

    # --- agent3, accountable all along, reads it and resolves -------------------------
    agent3.reload()
    timeline = agent3.locator("ol.timeline")
    expect(timeline).to_contain_text("Fixed build 4.2.1")
    expect(timeline).to_contain_text("Install 4.2.1 from our portal.")
    expect(agent3.locator(".ticket-head .tier-badge")).to_have_text("Tier 3")
    agent3.locator("summary", has_text="Resolve").click()
    agent3.get_by_label("Resolution", exact=True).fill(
        "Vendor firmware 4.2.1 installed on all docks."
    )
    agent3.get_by_role("button", name="Resolve", exact=True).click()
    expect(agent3.get_by_text("Resolved.", exact=True)).to_be_visible()
    done = Ticket.objects.get(pk=ticket.pk)
    assert (done.status, done.resolved_tier) == ("resolved", 3)
    handoff = VendorHandoff.objects.get(ticket=ticket)
    assert handoff.vendor_reference == "NW-4471" and handoff.done_at is not None

    # --- the manager revokes the link in the admin; the vendor's link then answers 403
    manager = new_page()
    login(manager, "manager")
    manager.goto("/admin/tiers/vendorhandoff/")
    manager.locator("input[name=_selected_action]").check()
    manager.locator("select[name=action]").select_option(label="Revoke link")
    manager.get_by_role("button", name="Go").click()
    expect(manager.get_by_text("1 vendor link(s) revoked.")).to_be_visible()
    handoff.refresh_from_db()
    assert handoff.revoked_at is not None
    response = vendor.goto(link)
    assert response.status == 403
    expect(vendor.get_by_role("heading", name="This vendor link has been revoked.")).to_be_visible()
    expect(vendor.locator("body")).not_to_contain_text("Rolled back one dock")

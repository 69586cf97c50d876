"""Journey 6, security in the browser: a customer cannot open another customer's
ticket (by reference, by a near-miss token, through the API or the agent pages), and
script a customer types into a ticket is shown as text on the agent's page, inert."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.stack import login, submit_ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SUBJECT = "<img src=x onerror=\"document.title='pwned';alert('subject')\">Printer"
DESCRIPTION = "\n\n".join(
    [
        "<script>document.title='pwned';alert('script')</script>",
        "<svg onload=\"alert('svg')\"></svg> <b onmouseover=\"alert('hover')\">bold</b>",
        "[click me](javascript:alert('link'))",
        "<iframe src=\"javascript:alert('frame')\"></iframe>",
    ]
)


def _assert_inert(page) -> None:
    """Nothing the customer typed became live markup."""
    assert page.title() != "pwned"
    live = page.evaluate(
        """() => ({
            handlers: [...document.querySelectorAll('*')].filter(
                (el) => [...el.attributes].some((a) => a.name.startsWith('on'))).length,
            scripts: [...document.scripts].filter((s) => s.textContent.includes('alert')).length,
            jsLinks: document.querySelectorAll('[href^="javascript:" i], [src^="javascript:" i]').length,
            frames: document.querySelectorAll('iframe, svg[onload]').length,
        })"""
    )
    assert live == {"handlers": 0, "scripts": 0, "jsLinks": 0, "frames": 0}, live


def test_customers_are_fenced_and_scripts_stay_text(new_page, demo):
    # Chris (the demo customer, logged in) submits a ticket full of script.
    dialogs: list[str] = []
    chris = new_page()
    chris.on("dialog", lambda d: dialogs.append(d.message))
    login(chris, "customer")
    chris_ticket = submit_ticket(
        chris, category="Hardware fault", subject=SUBJECT, description=DESCRIPTION
    )
    chris.get_by_role("link", name="Follow my ticket").click()
    expect(chris.locator("h1")).to_contain_text("<img src=x onerror=")
    _assert_inert(chris)

    # Mallory, another customer without an account, has a ticket of her own …
    mallory = new_page()
    mine = submit_ticket(
        mallory,
        name="Mallory",
        email="mallory@example.com",
        category="Password reset",
        subject="My own problem",
        description="A genuine request of mine.",
    )
    mallory.get_by_role("link", name="Follow my ticket").click()
    expect(mallory.locator("h1")).to_contain_text("My own problem")

    # … and tries every door to Chris's ticket.
    token = chris_ticket.tracking_token
    near_miss = token[:-1] + ("A" if token[-1] != "A" else "B")
    for path in (
        f"/tickets/track/{chris_ticket.reference}/",
        f"/tickets/track/{near_miss}/",
        f"/tickets/track/{chris_ticket.pk}/",
    ):
        response = mallory.goto(path)
        assert response.status == 404, path
        expect(mallory.get_by_role("heading", name="We could not find that page")).to_be_visible()
        expect(mallory.locator("body")).not_to_contain_text("Printer")
    mallory.goto(f"/agent/tickets/{chris_ticket.reference}/")
    expect(mallory).to_have_url(re.compile(r"/accounts/login/\?next="))
    # Anonymous: the API asks for credentials (401), it does not just refuse.
    assert mallory.request.get(f"/api/v1/tickets/{chris_ticket.reference}/").status == 401

    # Logged in as a customer, Chris cannot reach the agent pages either, and "My
    # tickets" lists only his own.
    for path in ("/agent/", f"/agent/tickets/{mine.reference}/", "/dashboard/"):
        response = chris.goto(path)
        assert response.status == 403, path
        expect(chris.get_by_role("heading", name="You do not have access")).to_be_visible()
    assert chris.request.get(f"/api/v1/tickets/{mine.reference}/").status == 404
    chris.goto("/tickets/mine/")
    expect(chris.locator("tbody tr")).to_have_count(1)
    expect(chris.locator("tbody")).to_contain_text(chris_ticket.reference)

    # agent2 (Hardware fault enters at Tier 2) reads Chris's ticket: text, not script.
    agent = new_page()
    agent.on("dialog", lambda d: dialogs.append(d.message))
    login(agent, "agent2")
    row = agent.locator(f'tr[data-reference="{chris_ticket.reference}"]')
    expect(row).to_contain_text("<img src=x onerror=")
    _assert_inert(agent)
    row.locator("a.queue-link").click()
    expect(agent.locator("h1")).to_contain_text(f"{chris_ticket.reference}: <img src=x onerror=")
    expect(agent.locator("ol.timeline")).to_contain_text("click me")
    expect(agent.locator("ol.timeline")).to_contain_text("bold")
    agent.locator("ol.timeline b", has_text="bold").hover()
    _assert_inert(agent)
    assert dialogs == []

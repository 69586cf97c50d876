"""Browser journey through the agent workspace (Playwright + Debian chromium):
agent1 claims a ticket, posts an internal note and a reply, escalates with a hand-off
(its consulted articles found with the picker's KB search);
agent2 finds it in the Tier 2 queue with the hand-off pinned on top and marks the
escalation avoidable with the article that would have solved it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.a11y import assert_accessible
from tests.factories import ArticleFactory
from tickets.models import Ticket, TicketEvent
from tickets.services import core

# The browser comes from tests/e2e/stack.py (``new_page``): a missing chromium fails,
# browser tests never skip silently.
pytestmark = pytest.mark.e2e


def login(new_page, live_server, username: str):
    page = new_page()
    page.goto("/accounts/login/?next=/agent/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/agent/**")
    return page


@pytest.mark.django_db(transaction=True)
def test_agent_journey(live_server, new_page, make_ticket, agent1, agent2):
    article = ArticleFactory(title="Reset a forgotten password", slug="reset-password")
    # Nothing in the ticket's text suggests it: only the picker's search finds it.
    unrelated = ArticleFactory(
        title="Clearing printer jams", slug="printer-jams", summary="Paper stuck in the tray"
    )
    ticket = make_ticket(subject="Cannot log in to the VPN portal")
    ref = ticket.reference

    # --- agent1, Tier 1 -------------------------------------------------------
    page = login(new_page, live_server, "agent1")
    assert_accessible(page, "queue")
    row = page.locator(f'tr[data-reference="{ref}"]')
    row.get_by_role("button", name="Claim").click()
    page.wait_for_url(f"**/agent/tickets/{ref}/")
    assert page.get_by_test_id("assignee").inner_text() == "agent1"
    assert_accessible(page, "claimed ticket page")

    page.get_by_label("Message").fill("Customer says it started after the password change.")
    page.get_by_label("Internal note (not shown to the customer)").check()
    page.get_by_role("button", name="Post reply").click()
    page.wait_for_selector("text=Note added.")

    page.get_by_label("Message").fill("Could you try signing in with your new password once more?")
    page.get_by_role("button", name="Post reply").click()
    page.wait_for_selector("text=Reply sent.")
    timeline = page.locator("ol.timeline")
    assert timeline.locator("li.event-note.internal").count() == 1
    assert timeline.locator("li.event-reply").count() == 1

    page.locator("summary", has_text="Escalate to Tier 2").click()
    page.get_by_label("Symptom").fill("VPN rejects the new password")
    page.get_by_label("Steps tried").fill("Password reset, cleared cached credentials")
    consulted = page.get_by_label("KB articles consulted")
    search = page.locator("#escalate").get_by_label("Search the knowledge base")
    search.fill("forgotten password")
    expect(consulted.locator(f'option[value="{article.slug}"]')).to_have_count(1)
    consulted.select_option(article.slug)
    # The page lists the suggested articles only; the search adds the others, and a
    # later search keeps what was already chosen.
    expect(consulted.locator(f'option[value="{unrelated.slug}"]')).to_have_count(0)
    search.fill("printer")
    expect(consulted.locator(f'option[value="{unrelated.slug}"]')).to_have_count(1)
    expect(consulted).to_have_values([article.slug])
    consulted.select_option([article.slug, unrelated.slug])
    page.get_by_label("Findings").fill("Directory sync lag suspected")
    page.get_by_role("button", name="Escalate").click()
    page.wait_for_selector("text=Escalated with your hand-off.")
    page.context.close()

    # --- agent2, Tier 2 -------------------------------------------------------
    page = login(new_page, live_server, "agent2")
    assert page.locator("h1").inner_text() == "Tier 2 queue"
    # The queue refreshes itself (htmx poll of the same query): a ticket escalated
    # meanwhile appears without a reload.
    late = make_ticket(subject="Shared drive gone")
    core.ticket_escalate(ticket=late, actor=agent1, symptom="s", steps_tried="t", findings="f")
    page.wait_for_selector(f'tr[data-reference="{late.reference}"]', timeout=12000)
    # Keyboard: j moves focus down the ticket links.
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.classList.contains('queue-link')")
    page.locator(f'tr[data-reference="{ref}"] a.queue-link').click()
    page.wait_for_url(f"**/agent/tickets/{ref}/")
    pinned = page.get_by_test_id("pinned-handoff")
    assert "Hand-off from Tier 1 by agent1" in pinned.inner_text()
    assert "Directory sync lag suspected" in pinned.inner_text()
    # Pinned above the timeline.
    pinned_y = pinned.bounding_box()["y"]
    timeline_y = page.locator("ol.timeline").first.bounding_box()["y"]
    assert pinned_y < timeline_y

    pinned.get_by_label("Search the knowledge base").fill("forgotten password")
    would_have = pinned.get_by_label("Article that would have solved it")
    expect(would_have.locator(f'option[value="{article.slug}"]')).to_have_count(1)
    would_have.select_option(article.slug)
    pinned.get_by_role("button", name="Mark avoidable").click()
    page.wait_for_selector("text=Marked avoidable.")
    assert page.locator("li.event-avoidable").count() == 1
    page.context.close()

    ticket = Ticket.objects.get(pk=ticket.pk)
    assert ticket.tier == 2
    kinds = list(ticket.events.order_by("id").values_list("kind", flat=True))
    assert kinds == ["created", "assigned", "note", "reply", "escalated", "avoidable"]
    handoff = ticket.events.get(kind=TicketEvent.Kind.ESCALATED).data["handoff"]
    assert sorted(handoff["articles"]) == [unrelated.slug, article.slug]
    mark = ticket.events.get(kind=TicketEvent.Kind.AVOIDABLE)
    assert mark.data["article"] == "reset-password" and mark.data["escalated_by"] == agent1.pk


@pytest.mark.django_db(transaction=True)
def test_article_search_shows_titles_as_text_and_says_when_it_failed(
    live_server, new_page, make_ticket, agent1
):
    ticket = make_ticket(subject="Cannot log in to the VPN portal")
    page = login(new_page, live_server, "agent1")
    page.goto(f"/agent/tickets/{ticket.reference}/")
    page.locator("summary", has_text="Resolve").click()
    solved = page.get_by_label("KB article that solved it (optional)")
    search = page.locator("#resolve").get_by_label("Search the knowledge base")
    evil = '<img src=x onerror="window.pwned=1">Evil'
    page.route(
        "**/api/v1/kb/suggest/**",
        lambda route: route.fulfill(json=[{"slug": "evil", "title": evil, "audience": "public"}]),
    )
    search.fill("evil title")
    expect(solved.locator('option[value="evil"]')).to_have_text(evil)
    assert page.evaluate("window.pwned") is None
    page.unroute("**/api/v1/kb/suggest/**")
    page.route("**/api/v1/kb/suggest/**", lambda route: route.fulfill(status=500, body="x"))
    search.fill("anything else")
    expect(page.locator("#resolve [data-kb-picker-status]")).to_have_text("Search failed.")
    # A failed search leaves the picker as it was.
    expect(solved.locator('option[value="evil"]')).to_have_count(1)

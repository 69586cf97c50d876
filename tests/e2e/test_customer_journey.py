"""A customer in a real browser (Debian's chromium): types a description, sees a
suggested article, submits, opens the tracking link, replies and rates."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.a11y import assert_accessible
from tests.factories import ArticleFactory
from tickets.models import Deflection, SatisfactionRating, Ticket, TicketEvent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

playwright_sync = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def browser_page(new_page, monkeypatch, settings):
    """A page of the session's shared chromium (tests/e2e/stack.py): a second
    sync_playwright() in the same process fails while that one runs."""
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by
    # the test itself are still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"e2e-{uuid.uuid4().hex}",
        }
    }
    page = new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    assert not errors, errors  # no JavaScript errors (CSP included) on the way


def test_customer_journey(live_server, browser_page, policies, category, mailoutbox):
    ArticleFactory(
        title="Reset your password yourself",
        slug="reset-password",
        summary="Forgotten password? Reset it in two minutes.",
        body="Go to the **account page** and choose *Forgot password*.",
    )
    page = browser_page
    expect = playwright_sync.expect

    page.goto(f"{live_server.url}/tickets/new/")
    page.get_by_label("Your name").fill("Pat Customer")
    page.get_by_label("Your e-mail").fill("pat@example.com")
    page.get_by_label("What is it about?").select_option(label=category.name)
    page.get_by_label("Subject").fill("Cannot log in")
    description = page.get_by_label("Describe the problem")
    description.press_sequentially("I forgot my password this morning", delay=20)

    suggestions = page.locator("#suggestions")
    expect(suggestions.get_by_role("link", name="Reset your password yourself")).to_be_visible()
    assert_accessible(page, "form with suggestions")

    # Opening the suggestion (new tab) is logged; the form stays as typed.
    with page.context.expect_page() as article_tab:
        suggestions.get_by_role("link", name="Reset your password yourself").click()
    article = article_tab.value
    article.wait_for_load_state()
    expect(article.get_by_role("heading", name="Reset your password yourself")).to_be_visible()
    article.close()

    page.get_by_label("It slows me down").check()
    page.get_by_role("button", name="Submit ticket").click()

    expect(page.get_by_role("heading", name="Thank you, we have your ticket")).to_be_visible()
    ticket = Ticket.objects.get()
    expect(page.locator(".reference")).to_have_text(ticket.reference)
    assert_accessible(page, "thank-you page")
    page.locator("a.tracking-link").click()

    expect(page).to_have_url(f"{live_server.url}/tickets/track/{ticket.tracking_token}/")
    expect(page.locator(".journey [aria-current=step]")).to_contain_text("With our help desk")
    page.get_by_label("Your reply").fill("I also tried the **reset link**, it did not arrive.")
    page.get_by_role("button", name="Post reply").click()
    expect(page.get_by_text("Your reply was sent")).to_be_visible()
    expect(page.locator(".timeline strong", has_text="reset link")).to_be_visible()
    assert_accessible(page, "tracking page")

    page.get_by_role("button", name="This solved my problem").click()
    expect(page.get_by_role("heading", name="How did we do?")).to_be_visible()
    assert_accessible(page, "rating form")
    page.get_by_label("5 · Excellent").check()
    page.get_by_label("Anything you want to tell us?").fill("Found it, thanks!")
    page.get_by_role("button", name="Send rating").click()
    expect(page.get_by_text("Thank you for rating our help.")).to_be_visible()
    expect(page.get_by_text("You rated our help 5 out of 5")).to_be_visible()

    rating = SatisfactionRating.objects.get(ticket=ticket)
    assert (rating.rating, rating.comment) == (5, "Found it, thanks!")
    assert ticket.events.filter(kind=TicketEvent.Kind.CUSTOMER_REPLY).count() == 1
    shown = Deflection.objects.get(article__slug="reset-password")
    assert shown.ticket == ticket and shown.opened_at is not None
    assert any(ticket.reference in m.subject for m in mailoutbox)

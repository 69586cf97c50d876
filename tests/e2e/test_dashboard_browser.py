"""A manager logs in, opens the dashboard and sees every chart drawn (not blank)."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.e2e.stack import assert_charts_drawn, login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_manager_sees_the_charts_drawn(new_page, make_ticket, agent1, manager):
    from tests.factories import ArticleFactory
    from tickets.services import core

    manager.set_password("demo")
    manager.save(update_fields=["password"])
    article = ArticleFactory(title="Reset your password", slug="reset-password")
    for i in range(3):
        ticket = make_ticket(subject=f"Ticket {i}")
        if i < 2:
            core.ticket_resolve(ticket=ticket, actor=agent1, resolution="Done.", article=article)
        else:
            core.ticket_escalate(
                ticket=ticket, actor=agent1, symptom="s", steps_tried="t", findings="f"
            )

    page = new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_console(msg) -> None:
        # Only the dashboard's own errors.
        url = (msg.location or {}).get("url", "")
        if msg.type == "error" and urlparse(url).path.startswith("/dashboard/"):
            errors.append(f"{msg.text} @ {url}")

    page.on("console", on_console)
    login(page, "manager")
    page.wait_for_url("**/dashboard/")
    assert page.get_by_role("heading", name="Resolution dashboard").is_visible()
    assert page.locator("[data-figure=created]").inner_text() == "3"
    assert "target band" in page.locator(".band-text").inner_text()

    assert_charts_drawn(page)
    assert errors == []

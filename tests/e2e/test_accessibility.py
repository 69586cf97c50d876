"""Every main page passes axe-core with no serious or critical violation, the main
actions are reachable and usable by keyboard alone, and the main pages work 375 px
wide (screenshots of each are kept with the test's output)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from knowledgebase.models import Article
from tests.e2e.a11y import assert_accessible, tab_to
from tests.e2e.stack import login
from tickets.models import Category, Ticket
from tickets.services import core
from tiers.models import AgentProfile, BusinessCalendar

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _ticket() -> Ticket:
    return core.ticket_create(
        category=Category.objects.get(slug="password-reset"),
        subject="Cannot sign in",
        description="My password expired this morning.",
        requester_name="Chris Customer",
        requester_email="customer@example.com",
    )


def _article_slug() -> str:
    return Article.objects.filter(status="published", audience="public").values_list(
        "slug", flat=True
    )[0]


def _manager_pages() -> list[str]:
    agent = AgentProfile.objects.get(user__username="agent1")
    calendar = BusinessCalendar.objects.first()
    return [
        "/manage/",
        "/manage/agents/",
        "/manage/agents/new/",
        f"/manage/agents/{agent.pk}/",
        "/manage/categories/",
        "/manage/categories/new/",
        "/manage/budgets/",
        "/manage/calendars/",
        f"/manage/calendars/{calendar.pk}/",
        "/manage/sla/",
        "/manage/vendors/",
        "/manage/vendors/new/",
        "/manage/canned/",
        "/manage/canned/new/",
        "/manage/webhooks/",
        "/manage/webhooks/new/",
        "/manage/tokens/",
        "/manage/audit/",
        "/accounts/preferences/",
    ]


def test_every_main_page_passes_axe(new_page, demo):
    ticket = _ticket()
    slug = _article_slug()

    visitor = new_page()
    for url in ("/", "/tickets/new/", f"/tickets/track/{ticket.tracking_token}/", "/kb/",
                f"/kb/{slug}/", "/accounts/login/", "/accounts/signup/"):  # fmt: skip
        visitor.goto(url)
        assert_accessible(visitor, url)
    # A refused form shows its errors: they must be accessible too.
    visitor.goto("/tickets/new/")
    visitor.get_by_role("button", name="Submit ticket").click()
    assert_accessible(visitor, "/tickets/new/ with errors")

    agent = new_page()
    login(agent, "agent1")
    for url in ("/agent/", f"/agent/tickets/{ticket.reference}/", "/agent/notifications/"):
        agent.goto(url)
        assert_accessible(agent, url)

    manager = new_page()
    login(manager, "manager")
    manager.goto("/dashboard/")
    manager.wait_for_selector("#chart-daily", state="attached")
    assert_accessible(manager, "/dashboard/")
    for url in _manager_pages():
        manager.goto(url)
        assert_accessible(manager, url)
    manager.goto("/manage/budgets/")
    manager.get_by_label("Tier 1, Urgent").fill("0:00:00")
    manager.get_by_role("button", name="Save budgets").click()
    expect(manager.get_by_text("Give a duration longer than zero.")).to_be_visible()
    assert_accessible(manager, "/manage/budgets/ with errors")


def test_main_actions_work_from_the_keyboard(new_page, demo):
    ticket = _ticket()

    # The customer: skip link first, then the whole form and its submit button.
    visitor = new_page()
    visitor.goto("/tickets/new/")
    visitor.keyboard.press("Tab")
    expect(visitor.get_by_role("link", name="Skip to content")).to_be_focused()
    tab_to(visitor, visitor.get_by_label("Subject"))
    tab_to(visitor, visitor.get_by_role("button", name="Submit ticket"))

    # The agent claims a ticket from its page with Enter, then reaches reply/escalate/resolve.
    agent = new_page()
    login(agent, "agent1")
    agent.goto(f"/agent/tickets/{ticket.reference}/")
    claim = agent.get_by_role("button", name="Claim")
    tab_to(agent, claim)
    agent.keyboard.press("Enter")
    expect(agent.get_by_role("button", name="Post reply")).to_be_visible()
    tab_to(agent, agent.get_by_role("button", name="Post reply"))
    # Escalate and Resolve sit in disclosure widgets: Enter opens one, Tab reaches its button.
    for summary, button in (("Escalate to Tier 2", "Escalate"), ("Resolve", "Resolve")):
        tab_to(agent, agent.locator("summary", has_text=summary), max_presses=200)
        agent.keyboard.press("Enter")
        tab_to(agent, agent.get_by_role("button", name=button, exact=True), from_top=False)
    assert Ticket.objects.get(pk=ticket.pk).assignee.username == "agent1"

    # The manager changes a budget and reads it in the audit log, keyboard only.
    manager = new_page()
    login(manager, "manager")
    manager.goto("/dashboard/")
    tab_to(manager, manager.get_by_role("link", name="Manage"))
    manager.keyboard.press("Enter")
    manager.wait_for_url("**/manage/")
    manager.goto("/manage/budgets/")
    cell = manager.get_by_label("Tier 2, High")
    tab_to(manager, cell)
    manager.keyboard.press("Control+A")
    manager.keyboard.type("3:00:00")
    tab_to(manager, manager.get_by_role("button", name="Save budgets"))
    manager.keyboard.press("Enter")
    expect(manager.get_by_text("1 budgets saved.")).to_be_visible()
    manager.goto("/manage/audit/")
    tab_to(manager, manager.get_by_role("button", name="Filter"))
    expect(manager.locator(".audit-table")).to_contain_text("3:00:00")


NARROW_PAGES = [
    ("customer", None, "/"),
    ("customer", None, "/tickets/new/"),
    ("customer", None, "track"),
    ("customer", None, "/kb/"),
    ("agent", "agent1", "/agent/"),
    ("agent", "agent1", "ticket"),
    ("manager", "manager", "/dashboard/"),
    ("manager", "manager", "/manage/"),
    ("manager", "manager", "/manage/budgets/"),
    ("manager", "manager", "/manage/audit/"),
]


def test_main_pages_work_375_px_wide(chromium, live_server, demo, tmp_path):
    """No page scrolls sideways at 375 px (tables scroll inside their own box), the
    main action stays visible, and a screenshot of each page is kept."""
    ticket = _ticket()
    # E2E_SCREENSHOT_DIR keeps them somewhere to look at (CI artifacts, a review).
    out = Path(os.environ.get("E2E_SCREENSHOT_DIR") or tmp_path / "narrow")
    out.mkdir(parents=True, exist_ok=True)
    contexts = {}
    try:
        for role, username, url in NARROW_PAGES:
            if role not in contexts:
                context = chromium.new_context(
                    base_url=live_server.url,
                    viewport={"width": 375, "height": 812},
                    device_scale_factor=1,
                    is_mobile=True,
                    has_touch=True,
                )
                context.set_default_timeout(15_000)
                page = context.new_page()
                if username:
                    login(page, username)
                contexts[role] = (context, page)
            page = contexts[role][1]
            target = {
                "track": f"/tickets/track/{ticket.tracking_token}/",
                "ticket": f"/agent/tickets/{ticket.reference}/",
            }.get(url, url)
            page.goto(target)
            page.wait_for_load_state("load")
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            wide = page.evaluate(
                """() => [...document.querySelectorAll("body *")]
                    .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
                    .filter((el) => !el.closest(".table-wrap"))
                    .slice(0, 5).map((el) => el.tagName + "." + el.className + "#" + el.id)"""
            )
            assert overflow <= 0, f"{target} scrolls sideways by {overflow}px at 375 px: {wide}"
            assert page.locator("h1").first.is_visible(), target
            assert_accessible(page, f"{target} at 375 px")
            if target == "/manage/budgets/":
                # Its tables are wider than the screen: each scroll box takes the focus.
                wraps = page.locator(".table-wrap")
                expect(wraps.first).to_have_attribute("tabindex", "0")
                expect(wraps.first).to_have_attribute("role", "region")
            name = "narrow-" + (target.strip("/").replace("/", "-")[:40] or "home")
            if url in ("track", "ticket"):
                name = f"narrow-{url}"
            path = out / f"{name}.png"
            page.screenshot(path=str(path), full_page=True)
            assert path.stat().st_size > 5_000, f"blank screenshot of {target}"
    finally:
        for context, _page in contexts.values():
            context.close()
        from django.db import connections

        connections.close_all()

"""Journey: the demo manager (staff, never a superuser, never in Django admin) sets up
a new team from the manager pages — a calendar with its hours and a holiday, a
category entering at Tier 2, an agent, a tighter Tier 2 budget, a vendor — and reads
it all back in the audit log. Every page passes the accessibility audit."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from django.core import mail
from playwright.sync_api import expect

from desk.models import AuditEntry
from tests.e2e.a11y import assert_accessible
from tests.e2e.stack import login
from tickets.models import Category
from tickets.services import core
from tiers.models import AgentProfile, BusinessCalendar, EscalationPolicy, VendorContact

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _saved(page, text: str) -> None:
    expect(page.locator(".messages")).to_contain_text(text)
    assert_accessible(page)


def test_a_manager_sets_up_a_team_without_django_admin(new_page, demo):
    page = new_page()
    login(page, "manager")
    page.get_by_role("link", name="Manage", exact=True).click()
    expect(page.get_by_role("heading", name="Manage the desk")).to_be_visible()
    assert_accessible(page)

    # A calendar of its own, with office hours and a holiday.
    page.get_by_role("navigation", name="Manager pages").get_by_role(
        "link", name="Calendars"
    ).click()
    page.get_by_role("link", name="Add").click()
    page.get_by_label("Name").fill("Lab hours")
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_label("Open 24×7 (ignores working hours)").uncheck()
    page.get_by_role("button", name="Save").click()
    _saved(page, "Saved “Lab hours”.")
    page.get_by_label("Weekday").select_option(label="Monday")
    page.get_by_label("Start").fill("09:00")
    page.get_by_label("End").fill("17:00")
    page.get_by_role("button", name="Add working hours").click()
    _saved(page, "Added to Lab hours.")
    page.locator("#id_holiday-date").fill("2026-12-24")
    page.locator("#id_holiday-name").fill("Christmas Eve")
    page.get_by_role("button", name="Add holiday").click()
    _saved(page, "Added to Lab hours.")
    calendar = BusinessCalendar.objects.get(name="Lab hours")
    assert calendar.time_zone == "Europe/Berlin" and not calendar.is_24x7
    assert [(h.weekday, h.start, h.end) for h in calendar.hours.all()] == [(0, time(9), time(17))]
    assert calendar.holidays.get().date == date(2026, 12, 24)

    # A category whose tickets start at Tier 2 as high priority.
    page.goto("/manage/categories/new/")
    page.get_by_label("Name").fill("Lab equipment")
    page.get_by_label("Slug").fill("lab-equipment")
    page.get_by_label("Entry tier").select_option(label="Tier 2 · Technical")
    page.get_by_label("Default priority").select_option(label="High")
    page.get_by_role("button", name="Save").click()
    _saved(page, "Saved “Lab equipment”.")

    # An agent for it; they get the set-your-password e-mail.
    page.goto("/manage/agents/")
    page.get_by_role("link", name="Add").click()
    page.get_by_label("Username").fill("lab1")
    page.get_by_label("E-mail").fill("lab1@example.com")
    page.get_by_label("Tier").select_option(label="Tier 2 · Technical")
    page.get_by_role("button", name="Save").click()
    _saved(page, "Agent lab1 created")
    assert AgentProfile.objects.get(user__username="lab1").tier == 2
    assert any(m.to == ["lab1@example.com"] for m in mail.outbox)

    # A tighter Tier 2 / high budget.
    page.goto("/manage/budgets/")
    page.get_by_label("Tier 2, High").fill("1:30:00")
    page.get_by_role("button", name="Save budgets").click()
    _saved(page, "1 budgets saved.")

    # A vendor covering the new category.
    page.goto("/manage/vendors/new/")
    page.get_by_label("Contact name").fill("Lena Lab")
    page.get_by_label("Company").fill("LabCo")
    page.get_by_label("E-mail").fill("support@labco.example")
    page.get_by_label("Lab equipment").check()
    page.get_by_role("button", name="Save").click()
    _saved(page, "Saved “Lena Lab (LabCo)”.")
    assert list(
        VendorContact.objects.get(company="LabCo").categories.values_list("slug", flat=True)
    ) == ["lab-equipment"]

    # The audit log tells the story, filterable by what changed.
    page.goto("/manage/audit/")
    page.get_by_label("What").select_option("tiers.escalationpolicy")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator(".audit-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("manager")
    expect(rows.first).to_contain_text("1:30:00")
    assert_accessible(page)
    assert AuditEntry.objects.filter(actor_name="manager").count() == 7

    # And the desk works that way: a lab ticket starts at Tier 2 on the new budget.
    ticket = core.ticket_create(
        category=Category.objects.get(slug="lab-equipment"),
        subject="Oscilloscope will not boot",
        description="It shows a firmware error.",
        requester_name="Chris Customer",
        requester_email="customer@example.com",
    )
    assert (ticket.tier, ticket.priority) == (2, "high")
    assert ticket.tier_budget == timedelta(minutes=90)
    assert EscalationPolicy.objects.get(tier=2, priority="high").budget == timedelta(minutes=90)

"""Chromium opens the portal, logs in as agent1 and lands in the agent area."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.e2e.stack import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_agent1_logs_in_and_sees_tier1_badge(new_page):
    call_command("seed_demo", "--no-history", stdout=open("/dev/null", "w"))  # noqa: SIM115
    page = new_page()
    page.goto("/")
    assert page.get_by_role("heading", name="How can we help?").is_visible()
    login(page, "agent1")
    page.wait_for_url("**/agent/")
    badge = page.locator(".nav-user .tier-badge")
    assert badge.inner_text() == "Tier 1"
    assert page.get_by_role("heading", name="Tier 1 queue").is_visible()


def test_wrong_password_is_refused_with_a_message(new_page):
    call_command("seed_demo", "--no-history", stdout=open("/dev/null", "w"))  # noqa: SIM115
    page = new_page()
    login(page, "agent1", "wrong")
    assert "/accounts/login/" in page.url
    assert page.get_by_role("alert").is_visible()

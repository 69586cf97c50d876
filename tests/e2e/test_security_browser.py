"""In Chromium: no page breaks the Content-Security-Policy (no inline script or style
is refused), and a locked-out login says when to try again."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from django.core.management import call_command

from tests.e2e.stack import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _watch_csp(page) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return violations


def test_pages_load_without_csp_violations(new_page, make_ticket):
    call_command("seed_demo", "--no-history", stdout=open("/dev/null", "w"))  # noqa: SIM115
    ticket = make_ticket()
    page = new_page()
    violations = _watch_csp(page)
    for path in ("/", "/tickets/new/", "/kb/", "/accounts/login/", ticket.get_tracking_url()):
        page.goto(path)
        page.wait_for_load_state("load")
    login(page, "agent1")
    for path in ("/agent/", f"/agent/tickets/{ticket.reference}/"):
        page.goto(path)
        page.wait_for_load_state("load")
        # The page itself, not the login form a failed sign-in would redirect to.
        assert urlparse(page.url).path == path, page.url
    manager = new_page()
    violations += _watch_csp(manager)
    login(manager, "manager")
    manager.goto("/dashboard/")
    manager.wait_for_load_state("load")
    assert urlparse(manager.url).path == "/dashboard/", manager.url
    assert violations == []


def test_a_locked_out_login_says_when_to_try_again(new_page, settings):
    call_command("seed_demo", "--no-history", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.LOGIN_FAILURE_LIMIT = 3
    page = new_page()
    for _ in range(3):
        login(page, "agent1", "wrong")
    login(page, "agent1", "demo")  # the right password, too late
    alert = page.get_by_role("alert")
    assert re.search(r"Try again in \d+ minutes?\.", alert.inner_text())
    assert "/accounts/login/" in page.url

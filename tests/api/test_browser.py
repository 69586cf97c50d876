"""In a real browser (Debian's chromium): the API docs render from our own static
files with no request leaving the server, and a user creates and revokes a token."""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed (make test installs it)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def test_swagger_ui_renders_without_any_outside_request(live_server, browser):
    page = browser.new_page()
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20000)
    assert "Tierdesk API" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector("text=/api/v1/tickets/", timeout=20000)
    assert hosts == {urlsplit(live_server.url).netloc}, hosts
    assert errors == []


@pytest.fixture
def customer_login(customer):
    # Before the browser starts: Playwright's sync API runs an event loop, inside which
    # Django refuses database calls.
    customer.set_password("pw-for-browser")
    customer.save()
    return customer


def test_user_creates_and_revokes_a_token(live_server, customer_login, browser):
    page = browser.new_page()
    page.goto(f"{live_server.url}/accounts/login/?next=/accounts/tokens/")
    page.fill("#id_username", "customer")
    page.fill("#id_password", "pw-for-browser")
    page.click("button:has-text('Log in')")
    page.wait_for_url("**/accounts/tokens/")
    page.get_by_label("Token name").fill("My script")
    page.get_by_label("Expires after").select_option("30")
    page.click("button:has-text('Create token')")
    secret = page.get_by_label("Your new token").input_value()
    assert secret.startswith("tdk_")
    assert "shown only once" in page.inner_text("main")

    import json
    import urllib.request

    def me() -> int:
        request = urllib.request.Request(
            f"{live_server.url}/api/v1/me/", headers={"Authorization": f"Bearer {secret}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                assert json.load(response)["username"] == "customer"
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    assert me() == 200
    page.click("button:has-text('Revoke “My script”')")
    assert "revoked" in page.inner_text(".messages")
    assert "Revoked" in page.inner_text("table")
    assert me() == 401

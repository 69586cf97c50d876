"""Chromium signs in through the provider's own login page and lands in its tier's
queue; logging out ends the provider session too."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

# The provider of the identity tests (a real django-oauth-toolkit OP on loopback).
from tests.identity.conftest import idp  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_agent_signs_in_with_the_company_account(new_page, live_server, settings, idp):  # noqa: F811
    idp.allow_redirect(live_server.url + "/accounts/oidc/corp/callback/", live_server.url + "/")
    settings.TIERDESK_OIDC_PROVIDERS = [idp.provider_setting()]
    page = new_page()
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign in with Acme SSO").click()
    expect(page.get_by_role("heading", name="Acme Identity")).to_be_visible()
    assert page.url.startswith(idp.url)
    page.get_by_label("Acme user name").fill("pat")
    page.get_by_label("Acme password").fill("acme-pass-1")
    page.get_by_role("button", name="Sign in to Acme").click()
    page.wait_for_url("**/agent/")
    assert page.locator(".nav-user .tier-badge").inner_text() == "Tier 2"
    expect(page.get_by_role("heading", name="Tier 2 queue")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(live_server.url + "/")
    expect(page.get_by_role("heading", name="How can we help?")).to_be_visible()
    # The provider session ended too: signing in again asks for the password.
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign in with Acme SSO").click()
    expect(page.get_by_role("heading", name="Acme Identity")).to_be_visible()


def test_refusal_is_shown_on_the_login_page(new_page, live_server, settings, idp):  # noqa: F811
    idp.allow_redirect(live_server.url + "/accounts/oidc/corp/callback/", live_server.url + "/")
    settings.TIERDESK_OIDC_PROVIDERS = [idp.provider_setting()]
    page = new_page()
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign in with Acme SSO").click()
    page.get_by_label("Acme user name").fill("noemail")
    page.get_by_label("Acme password").fill("acme-pass-1")
    page.get_by_role("button", name="Sign in to Acme").click()
    expect(page.get_by_role("alert")).to_contain_text("did not send your e-mail address")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()

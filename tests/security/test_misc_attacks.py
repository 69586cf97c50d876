"""Smaller attacks: open redirects after login, Host header spoofing, logout by GET,
the tracking token kept out of Referer headers, error pages without internals."""

from __future__ import annotations

import pytest
from django.test import Client

LOGIN = "/accounts/login/"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "https:evil.example",
    ],
)
def test_login_never_redirects_off_site(client, customer, target):
    response = client.post(LOGIN, {"username": "customer", "password": "pw", "next": target})
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]
    assert not response["Location"].startswith("javascript:")


@pytest.mark.django_db
def test_login_follows_a_local_next(client, customer):
    response = client.post(LOGIN, {"username": "customer", "password": "pw", "next": "/kb/"})
    assert response["Location"] == "/kb/"


@pytest.mark.django_db
def test_a_spoofed_host_header_is_refused(settings):
    settings.DEBUG = False
    response = Client(raise_request_exception=False).get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400


@pytest.mark.django_db
def test_logout_needs_a_post(client, customer):
    client.force_login(customer)
    assert client.get("/accounts/logout/").status_code == 405
    assert "_auth_user_id" in client.session


@pytest.mark.django_db
def test_tracking_links_do_not_leak_through_referer(client, make_ticket):
    ticket = make_ticket()
    response = client.get(ticket.get_tracking_url())
    # same-origin: the private token in the URL is never sent to another site.
    assert response.status_code == 200
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_error_pages_show_no_internals(settings):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    for path in ("/no-such-page/", "/agent/tickets/TD-999999/"):
        page = client.get(path).content.decode()
        assert "Traceback" not in page and "settings" not in page.lower()

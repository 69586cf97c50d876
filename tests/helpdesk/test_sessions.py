"""Signed-in requests read the session from Redis, and keep working when Redis is down."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import UserFactory
from tests.outage import DEAD_CACHE

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer_client(client):
    user = UserFactory()
    client.force_login(user)
    return client


@pytest.mark.skipif(
    settings.SESSION_ENGINE != "helpdesk.sessions", reason="sessions are cached only with Redis"
)
def test_a_signed_in_request_does_not_read_the_session_table(customer_client):
    customer_client.get(reverse("tickets:my-tickets"))  # the first read fills the cache
    with CaptureQueriesContext(connection) as ctx:
        assert customer_client.get(reverse("tickets:my-tickets")).status_code == 200
    assert not [q for q in ctx.captured_queries if "django_session" in q["sql"]]


def test_signed_in_pages_still_load_when_the_cache_is_down(customer_client, settings):
    settings.SESSION_ENGINE = "helpdesk.sessions"
    settings.CACHES = DEAD_CACHE
    response = customer_client.get(reverse("tickets:my-tickets"))
    assert response.status_code == 200
    assert b"My tickets" in response.content


def test_signing_in_works_when_the_cache_is_down(client, settings):
    settings.SESSION_ENGINE = "helpdesk.sessions"
    settings.CACHES = DEAD_CACHE
    user = UserFactory(username="pat")
    user.set_password("pw")
    user.save()
    response = client.post(reverse("login"), {"username": "pat", "password": "pw"})
    assert response.status_code == 302
    assert client.get(reverse("tickets:my-tickets")).status_code == 200

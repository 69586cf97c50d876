"""Throttles per user, per token and per anonymous address: 429 with Retry-After."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from integrations.scopes import ALL_SCOPES
from integrations.services import api_token_create

from .conftest import throttle_rates

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _real_cache(settings):
    """The production cache (Redis when REDIS_URL is set), under a key prefix of its own."""
    if django_settings.REDIS_URL:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": django_settings.REDIS_URL,
                "KEY_PREFIX": f"throttle-test-{uuid.uuid4().hex}",
            }
        }


def test_user_throttle_answers_429_with_retry_after(settings, client_for):
    throttle_rates(settings, user="3/min")
    client = client_for("customer")
    codes = [client.get("/api/v1/me/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.get("/api/v1/me/")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert "throttled" in response.json()["detail"]
    # Another user has a budget of their own.
    assert client_for("agent1").get("/api/v1/me/").status_code == 200


def test_token_throttle_is_per_token(settings, customer):
    throttle_rates(settings, token="2/min")
    _, first = api_token_create(user=customer, name="a", scopes=ALL_SCOPES)
    _, second = api_token_create(user=customer, name="b", scopes=ALL_SCOPES)
    one, two = APIClient(), APIClient()
    one.credentials(HTTP_AUTHORIZATION=f"Bearer {first}")
    two.credentials(HTTP_AUTHORIZATION=f"Bearer {second}")
    assert [one.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 429]
    assert int(one.get("/api/v1/me/")["Retry-After"]) > 0
    assert two.get("/api/v1/me/").status_code == 200


def test_user_throttle_covers_all_of_a_users_tokens(settings, customer):
    throttle_rates(settings, user="2/min")
    clients = []
    for name in "ab":
        _, raw = api_token_create(user=customer, name=name, scopes=ALL_SCOPES)
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        clients.append(c)
    codes = [clients[0].get("/api/v1/me/").status_code, clients[1].get("/api/v1/me/").status_code]
    assert codes == [200, 200]
    assert clients[1].get("/api/v1/me/").status_code == 429


def test_anonymous_throttle(settings):
    throttle_rates(settings, anon="2/min")
    client = APIClient(REMOTE_ADDR="203.0.113.9")
    codes = [client.get("/api/v1/kb/articles/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert APIClient(REMOTE_ADDR="203.0.113.10").get("/api/v1/kb/articles/").status_code == 200

"""The Redis cache backend reuses its client and still behaves like Django's."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache


def test_one_client_per_pool_and_a_working_cache():
    if settings.CACHES["default"]["BACKEND"] != "helpdesk.cache.RedisCache":
        pytest.skip("embedded mode: local memory, no Redis client to reuse")
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client(write=True) is client
    cache.set("cache-backend-test", {"a": 1}, 30)
    assert cache.get("cache-backend-test") == {"a": 1}
    assert cache.get_many(["cache-backend-test", "missing"]) == {"cache-backend-test": {"a": 1}}
    cache.set("cache-backend-counter", 1, 30)
    assert cache.incr("cache-backend-counter") == 2
    cache.delete("cache-backend-test")
    assert cache.get("cache-backend-test") is None

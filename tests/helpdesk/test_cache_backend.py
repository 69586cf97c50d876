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


def test_incr_is_one_round_trip_keeps_the_expiry_and_refuses_a_missing_key(monkeypatch):
    if settings.CACHES["default"]["BACKEND"] != "helpdesk.cache.RedisCache":
        pytest.skip("embedded mode: local memory")
    client = cache._cache.get_client(write=True)
    cache.set("cache-backend-ttl", 5, 30)
    calls = []
    real = client.execute_command
    monkeypatch.setattr(
        client, "execute_command", lambda *a, **k: calls.append(a[0]) or real(*a, **k)
    )
    assert cache.incr("cache-backend-ttl", 3) == 8
    assert calls == ["EVALSHA"]  # not EXISTS then INCRBY
    monkeypatch.undo()
    assert cache.get("cache-backend-ttl") == 8
    assert 0 < client.ttl(cache.make_and_validate_key("cache-backend-ttl")) <= 30
    with pytest.raises(ValueError):
        cache.incr("cache-backend-never-set")
    assert cache.get("cache-backend-never-set") is None  # not created by the attempt

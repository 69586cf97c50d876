"""The cache of the embedded install (no Redis): Django's database cache with an
``incr`` that neither loses concurrent hits nor extends a rate-limit window."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connections

from helpdesk import ratelimit


@pytest.fixture
def db_cache(settings):
    settings.CACHES = {
        **settings.CACHES,
        "shared": {"BACKEND": "helpdesk.cache.DatabaseCache", "LOCATION": "test_shared_cache"},
    }
    call_command("createcachetable", "test_shared_cache", verbosity=0)
    backend = caches["shared"]
    yield backend
    backend.clear()


@pytest.mark.django_db(transaction=True)
def test_concurrent_increments_are_all_counted(db_cache):
    db_cache.set("hits", 0, timeout=60)

    def count() -> None:
        try:
            for _ in range(25):
                db_cache.incr("hits")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=count) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert db_cache.get("hits") == 150


@pytest.mark.django_db
def test_incr_keeps_the_expiry_of_the_window(db_cache):
    db_cache.set("window", 1, timeout=2)
    assert db_cache.incr("window", 5) == 6
    time.sleep(2.2)
    # Django's own incr re-sets the key with the default timeout (300 s): the window
    # would outlive itself and keep refusing after it ended.
    assert db_cache.get("window") is None
    with pytest.raises(ValueError, match="not found"):
        db_cache.incr("window")


@pytest.mark.django_db
def test_rate_limits_count_in_the_database_cache(db_cache, monkeypatch):
    monkeypatch.setattr(ratelimit, "cache", db_cache)
    monkeypatch.setattr(ratelimit, "_redis_counts", lambda *_: None)  # default is Redis here
    results = [ratelimit.hit("login:ip:10.0.0.1", limit=2, window=60) for _ in range(3)]
    assert [r.allowed for r in results] == [True, True, False]
    assert ratelimit.peek("login:ip:10.0.0.1", window=60) == 3

"""Fixtures of the security suite."""

from __future__ import annotations

import copy
import uuid

import pytest


@pytest.fixture(autouse=True)
def _own_cache_namespace(settings):
    """Login and rate-limit counters live in the shared cache (Redis under `make test`);
    a fresh key prefix per test keeps one test's failures from locking out the next,
    without flushing a database other suites use."""
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"sectest-{uuid.uuid4().hex[:12]}"
    settings.CACHES = caches


@pytest.fixture
def ticket(make_ticket):
    return make_ticket()

"""Shared fixtures. Tests run on PostgreSQL + Redis under `make test`."""

from __future__ import annotations

import pytest

from helpdesk.celery import app as celery_app
from tests.factories import (
    CalendarFactory,
    CategoryFactory,
    PolicyFactory,
    SLAPolicyFactory,
    make_agent,
)


@pytest.fixture(autouse=True)
def _celery_eager(settings):
    """Unit tests run tasks in-process; tests that need a real worker say so
    (see tests/helpdesk/test_celery_worker.py) and start one themselves."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and presence live in the cache (Redis under make test):
    every test starts from an empty one, so limits hit by one test never leak into
    the next. The broker uses another Redis database, so this never drops tasks."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _fast_hashing_and_mail(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Journeys check that the dashboard reflects what just happened; the shared
    # one-minute cache has its own test.
    settings.REPORTS_CACHE_SECONDS = 0


@pytest.fixture
def calendar(db):
    return CalendarFactory()


@pytest.fixture
def policies(db, calendar):
    """The seeded default budgets (Tier 1 normal 8 h, …) and SLA targets."""
    from helpdesk.demo_data import POLICIES, SLA

    for tier, budgets in POLICIES.items():
        for priority, budget in budgets.items():
            PolicyFactory(tier=tier, priority=priority, budget=budget)
    for priority, (first, resolution) in SLA.items():
        SLAPolicyFactory(priority=priority, first_response=first, resolution=resolution)


@pytest.fixture
def category(db):
    return CategoryFactory(name="Password reset", slug="password-reset", entry_tier=1)


@pytest.fixture
def agent1(db):
    return make_agent(1, username="agent1")


@pytest.fixture
def agent2(db):
    return make_agent(2, username="agent2")


@pytest.fixture
def agent3(db):
    return make_agent(3, username="agent3")


@pytest.fixture
def manager(db):
    return make_agent(3, manager=True, username="manager")


@pytest.fixture
def customer(db):
    from tests.factories import UserFactory

    return UserFactory(username="customer", email="customer@example.com")


@pytest.fixture
def make_ticket(db, policies, category):
    """Create a ticket through the real service (clocks and timeline included)."""
    from tickets.services import ticket_create

    def _make(**kwargs):
        defaults = {
            "category": category,
            "subject": "Cannot log in",
            "description": "My password stopped working this morning.",
            "requester_name": "Pat Customer",
            "requester_email": "pat@example.com",
        }
        defaults.update(kwargs)
        return ticket_create(**defaults)

    return _make

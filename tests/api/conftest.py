"""API fixtures: one client per role, and isolated, generous throttles (the throttle
tests set their own rates)."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory

ROLES = ["anonymous", "customer", "other_customer", "agent1", "agent2", "agent3", "manager"]


def throttle_rates(settings, **rates: str) -> None:
    config = dict(settings.REST_FRAMEWORK)
    config["DEFAULT_THROTTLE_RATES"] = {
        "anon": "100000/min",
        "user": "100000/min",
        "token": "100000/min",
        **rates,
    }
    settings.REST_FRAMEWORK = config


@pytest.fixture(autouse=True)
def _api_settings(settings):
    # A private cache per test: throttle counters never leak between tests.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"api-tests-{uuid.uuid4().hex}",
        }
    }
    throttle_rates(settings)


@pytest.fixture
def other_customer(db):
    return UserFactory(username="other", email="other@example.com")


@pytest.fixture
def users(customer, other_customer, agent1, agent2, agent3, manager):
    return {
        "anonymous": None,
        "customer": customer,
        "other_customer": other_customer,
        "agent1": agent1,
        "agent2": agent2,
        "agent3": agent3,
        "manager": manager,
    }


@pytest.fixture
def client_for(users):
    """``client_for("agent1")``: an API client logged in (session) as that role."""

    def make(role: str) -> APIClient:
        client = APIClient()
        if users[role] is not None:
            client.force_login(users[role])
        return client

    return make


@pytest.fixture
def tier1_ticket(make_ticket, customer):
    return make_ticket(requester=customer, requester_email=customer.email)


@pytest.fixture
def tier2_ticket(make_ticket, customer, agent1):
    from tickets.services import ticket_escalate

    ticket = make_ticket(requester=customer, subject="VPN drops", requester_email=customer.email)
    return ticket_escalate(
        ticket=ticket, actor=agent1, symptom="drops", steps_tried="restart", findings="none"
    )

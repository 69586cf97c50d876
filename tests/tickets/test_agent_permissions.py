"""Permission matrix: each role against each agent action on a Tier 1 and a Tier 3
ticket. Customers never reach /agent/ (403); agents do not see tickets above their
tier (404, the same as "no such ticket"); managers act everywhere."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import ArticleFactory, UserFactory
from tickets.models import TicketEvent
from tickets.services import core

pytestmark = pytest.mark.django_db

HANDOFF = {"symptom": "s", "steps_tried": "st", "findings": "f"}

#: action url name -> POST data that would succeed for an allowed user
ACTIONS = {
    "agent-claim": {},
    "agent-reply": {"body": "Hello", "confirm": "1"},
    "agent-status": {"status": "pending_customer"},
    "agent-priority": {"priority": "high"},
    "agent-escalate": {**HANDOFF},
    "agent-deescalate": {"reason": "wrong tier"},
    "agent-resolve": {"resolution": "done"},
    "agent-merge": {"target": "__target__"},
    "agent-avoidable": {"missing_article": "1"},
    "agent-bounce": {"reason": "incomplete"},
}


@pytest.fixture
def setup(make_ticket, agent1, agent2, agent3, manager, customer):
    ArticleFactory()
    low = make_ticket(subject="tier one")
    high = make_ticket(subject="tier three")
    core.ticket_escalate(ticket=high, actor=agent1, **HANDOFF)
    core.ticket_escalate(ticket=high, actor=agent2, **HANDOFF)
    target = make_ticket(subject="merge target")
    users = {
        "anonymous": None,
        "customer": customer,
        "vendorish": UserFactory(username="vendor-user"),  # an account without an agent profile
        "agent1": agent1,
        "agent2": agent2,
        "agent3": agent3,
        "manager": manager,
    }
    return {"low": low, "high": high, "target": target, "users": users}


def _post(client, user, name, ticket, data, target):
    client.logout()
    if user is not None:
        client.force_login(user)
    data = {k: (target.reference if v == "__target__" else v) for k, v in data.items()}
    return client.post(reverse(f"tickets:{name}", kwargs={"reference": ticket.reference}), data)


@pytest.mark.parametrize("name", sorted(ACTIONS))
@pytest.mark.parametrize("role", ["anonymous", "customer", "vendorish"])
def test_non_staff_never_reach_agent_actions(client, setup, role, name):
    for which in ("low", "high"):
        before = TicketEvent.objects.count()
        response = _post(
            client, setup["users"][role], name, setup[which], ACTIONS[name], setup["target"]
        )
        if role == "anonymous":
            assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        else:
            assert response.status_code == 403
        assert TicketEvent.objects.count() == before


@pytest.mark.parametrize("role", ["customer", "vendorish"])
@pytest.mark.parametrize(
    "url",
    [
        "/agent/",
        "/agent/notifications/",
        "/agent/tickets/TD-000001/",
        "/agent/tickets/TD-000001/presence/",
    ],
)
def test_non_staff_get_403_pages(client, setup, role, url):
    client.force_login(setup["users"][role])
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_tier_1_cannot_touch_tier_3(client, setup, name):
    before = TicketEvent.objects.count()
    response = _post(
        client, setup["users"]["agent1"], name, setup["high"], ACTIONS[name], setup["target"]
    )
    assert response.status_code == 404
    assert TicketEvent.objects.count() == before


@pytest.mark.parametrize("role", ["agent1", "agent2"])
def test_lower_tiers_cannot_open_tier_3_page(client, setup, role):
    client.force_login(setup["users"][role])
    url = reverse("tickets:agent-ticket", kwargs={"reference": setup["high"].reference})
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("role", ["agent3", "manager"])
@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_tier_3_and_managers_can_act_on_tier_3(client, setup, role, name):
    """Each action is either done (302, one event more) or refused by a domain rule
    (400: e.g. a Tier 3 ticket cannot be escalated by hand) — never 403/404."""
    before = TicketEvent.objects.count()
    response = _post(
        client, setup["users"][role], name, setup["high"], ACTIONS[name], setup["target"]
    )
    assert response.status_code in (302, 400), response.status_code
    if name == "agent-escalate":
        assert response.status_code == 400
        assert b"Tier 3 tickets go to a vendor" in response.content
    elif name not in ("agent-merge",):
        assert response.status_code == 302
        assert TicketEvent.objects.count() >= before + 1


@pytest.mark.parametrize("role", ["agent1", "agent2", "agent3", "manager"])
def test_every_agent_can_act_on_tier_1(client, setup, role):
    response = _post(
        client,
        setup["users"][role],
        "agent-reply",
        setup["low"],
        ACTIONS["agent-reply"],
        setup["target"],
    )
    assert response.status_code == 302


@pytest.mark.parametrize("role", ["agent1", "agent2", "agent3"])
def test_only_managers_grant(client, setup, role):
    response = _post(
        client,
        setup["users"][role],
        "agent-grant",
        setup["low"],
        {"user": setup["users"]["agent1"].pk},
        setup["target"],
    )
    assert response.status_code == 403


def test_get_on_an_action_is_405(client, setup):
    client.force_login(setup["users"]["agent1"])
    url = reverse("tickets:agent-claim", kwargs={"reference": setup["low"].reference})
    assert client.get(url).status_code == 405

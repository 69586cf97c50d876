"""One role check guards every manager page: anonymous visitors are sent to the login
page, customers and agents get 403, managers (the demo's staff, non-superuser
manager among them) get the page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from integrations.models import ApiToken, Webhook
from tests.factories import (
    CategoryFactory,
    UserFactory,
    VendorFactory,
    make_agent,
)
from tickets.models import CannedResponse
from tiers.models import EscalationPolicy, Holiday, SLAPolicy, TierAssignment, WorkingHours

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(db, calendar, policies):
    agent = make_agent(1, username="someagent")
    webhook = Webhook.objects.create(
        name="Hook", url="https://hooks.example.com/x", events=["ticket.created"]
    )
    token = ApiToken.objects.create(user=agent, name="t", prefix="td_x", key_hash="a" * 64)
    canned = CannedResponse.objects.create(title="Hello", body="Hi {{ requester_name }}")
    holiday = Holiday.objects.create(calendar=calendar, date="2026-12-25", name="Christmas")
    hours = WorkingHours.objects.create(calendar=calendar, weekday=0, start="09:00", end="17:00")
    return {
        "agent": agent.agent_profile.pk,
        "category": CategoryFactory().pk,
        "policy": EscalationPolicy.objects.first().pk,
        "calendar": calendar.pk,
        "sla": SLAPolicy.objects.first().pk,
        "vendor": VendorFactory().pk,
        "canned": canned.pk,
        "webhook": webhook.pk,
        "token": token.pk,
        "holiday": holiday.pk,
        "hours": hours.pk,
        "assignment": TierAssignment.every_tier()[0].pk,
    }


GET_PAGES = [
    ("desk:index", None),
    ("desk:agents", None),
    ("desk:agent-new", None),
    ("desk:agent-edit", "agent"),
    ("desk:categories", None),
    ("desk:category-new", None),
    ("desk:category-edit", "category"),
    ("desk:budgets", None),
    ("desk:policy-edit", "policy"),
    ("desk:assignment", None),
    ("desk:lifecycle", None),
    ("desk:assignment-edit", "assignment"),
    ("desk:calendars", None),
    ("desk:calendar-new", None),
    ("desk:calendar-edit", "calendar"),
    ("desk:sla", None),
    ("desk:sla-new", None),
    ("desk:sla-edit", "sla"),
    ("desk:vendors", None),
    ("desk:vendor-new", None),
    ("desk:vendor-edit", "vendor"),
    ("desk:canned", None),
    ("desk:canned-new", None),
    ("desk:canned-edit", "canned"),
    ("desk:webhooks", None),
    ("desk:webhook-new", None),
    ("desk:webhook-edit", "webhook"),
    ("desk:tokens", None),
    ("desk:audit", None),
]

POST_ACTIONS = [
    ("desk:agent-password", "agent"),
    ("desk:agent-tokens", "agent"),
    ("desk:holiday-add", "calendar"),
    ("desk:hours-add", "calendar"),
    ("desk:holiday-delete", "holiday"),
    ("desk:hours-delete", "hours"),
    ("desk:canned-delete", "canned"),
    ("desk:webhook-delete", "webhook"),
    ("desk:token-revoke", "token"),
]


def _url(objects, name, key):
    return reverse(name, args=[objects[key]]) if key else reverse(name)


@pytest.mark.parametrize(("name", "key"), GET_PAGES)
def test_each_page_is_for_managers_only(client, objects, demo_manager, name, key):
    url = _url(objects, name, key)

    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))

    client.force_login(UserFactory(username="a-customer"))
    assert client.get(url).status_code == 403

    client.force_login(make_agent(2, username="a-tier2-agent"))
    assert client.get(url).status_code == 403

    client.force_login(demo_manager)
    response = client.get(url)
    assert response.status_code == 200
    assert b"Manager pages" in response.content  # the section navigation


@pytest.mark.parametrize(("name", "key"), POST_ACTIONS)
def test_each_action_is_for_managers_only(client, objects, name, key):
    url = _url(objects, name, key)
    assert client.post(url).status_code == 302  # to the login page

    client.force_login(UserFactory(username="a-customer"))
    assert client.post(url).status_code == 403
    client.force_login(make_agent(3, username="a-tier3-agent"))
    assert client.post(url).status_code == 403
    # Nothing was done by the refused requests.
    assert Holiday.objects.filter(pk=objects["holiday"]).exists()
    assert ApiToken.objects.get(pk=objects["token"]).revoked_at is None


def test_a_deactivated_manager_is_refused(client, demo_manager):
    demo_manager.agent_profile.is_active = False
    demo_manager.agent_profile.save()
    client.force_login(demo_manager)
    assert client.get(reverse("desk:agents")).status_code == 403


def test_managers_see_the_navigation_entry_and_others_do_not(client, demo_manager):
    client.force_login(make_agent(1, username="plain-agent"))
    assert reverse("desk:index").encode() not in client.get(reverse("tickets:agent-queue")).content
    client.force_login(demo_manager)
    page = client.get(reverse("tickets:agent-queue")).content.decode()
    assert f'href="{reverse("desk:index")}">Manage<' in page


FORM_PAGES = [
    ("desk:agent-new", None),
    ("desk:agent-edit", "agent"),
    ("desk:category-new", None),
    ("desk:category-edit", "category"),
    ("desk:budgets", None),
    ("desk:policy-edit", "policy"),
    ("desk:calendar-new", None),
    ("desk:calendar-edit", "calendar"),
    ("desk:holiday-add", "calendar"),
    ("desk:hours-add", "calendar"),
    ("desk:sla-new", None),
    ("desk:sla-edit", "sla"),
    ("desk:vendor-new", None),
    ("desk:vendor-edit", "vendor"),
    ("desk:canned-new", None),
    ("desk:canned-edit", "canned"),
    ("desk:webhook-new", None),
    ("desk:webhook-edit", "webhook"),
]

GARBAGE = {
    "name": "x" * 500,
    "slug": "not a slug!",
    "username": "bad name with spaces",
    "email": "not-an-address",
    "tier": "99",
    "capacity": "-1",
    "entry_tier": "abc",
    "sort_order": "99999999",
    "t1_urgent": "999999999 00:00:00",
    "t2_high": "-1:00:00",
    "budget": "forever",
    "warn_at_percent": "150",
    "time_zone": "Nowhere/City",
    "holiday-date": "2026-02-31",
    "hours-weekday": "9",
    "hours-start": "25:00",
    "priority": "whenever",
    "first_response": "0",
    "categories": ["not-a-pk", "999999"],
    "events": ["ticket.exploded"],
    "url": "ftp://example.com/",
    "title": "",
    "body": "b" * 20000,
}


@pytest.mark.parametrize(("name", "key"), FORM_PAGES)
def test_garbage_in_every_form_is_a_400_with_nothing_written(
    client, objects, demo_manager, name, key
):
    from desk.models import AuditEntry

    client.force_login(demo_manager)
    response = client.post(_url(objects, name, key), GARBAGE)
    assert response.status_code == 400
    assert b"errorlist" in response.content
    assert not AuditEntry.objects.exists()

"""Managers read and filter the audit log; every list page has a bounded query count."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from desk.services import audit_record
from integrations.models import ApiToken, Webhook
from tests.factories import CategoryFactory, UserFactory, VendorFactory, make_agent
from tickets.models import CannedResponse

pytestmark = pytest.mark.django_db


def _entries(actor, category, n: int, *, action="update"):
    for i in range(n):
        audit_record(
            actor=actor, action=action, instance=category, changes={"sort_order": [i, i + 1]}
        )


def test_filters_by_who_what_action_and_day(manager_client, demo_manager):
    other = make_agent(3, manager=True, username="boss2")
    printers = CategoryFactory(name="Printers", slug="printers")
    vendor = VendorFactory(name="Vera", company="Acme")
    with time_machine.travel(timezone.now() - timedelta(days=3)):
        _entries(other, printers, 2)
    _entries(demo_manager, printers, 3)
    audit_record(actor=demo_manager, action="create", instance=vendor)
    url = reverse("desk:audit")

    def count(**query):
        return manager_client.get(url, query).context["page"].paginator.count

    assert count() == 6
    assert count(actor="boss2") == 2
    assert count(object_type="tiers.vendorcontact") == 1
    assert count(action="create") == 1
    assert count(since=timezone.localdate().isoformat()) == 4
    assert count(q="print") == 5
    page = manager_client.get(url, {"actor": "boss2"}).content.decode()
    assert "<del>0</del> → <ins>1</ins>" in page


def test_a_bad_filter_is_a_400(manager_client):
    response = manager_client.get(reverse("desk:audit"), {"since": "yesterday", "action": "x"})
    assert response.status_code == 400
    assert "Enter a valid date." in response.content.decode()


def test_user_text_in_the_log_is_escaped(manager_client, demo_manager):
    category = CategoryFactory(name="<script>alert(1)</script>", slug="xss")
    audit_record(
        actor=demo_manager, action="update", instance=category, changes={"name": ["a", "<b>"]}
    )
    page = manager_client.get(reverse("desk:audit")).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page and "&lt;b&gt;" in page


def test_the_log_outlives_deleted_objects_and_accounts(manager_client, demo_manager):
    canned = CannedResponse.objects.create(title="Gone soon", body="x")
    leaver = make_agent(3, manager=True, username="leaver")
    audit_record(actor=leaver, action="update", instance=canned)
    canned.delete()
    leaver.delete()
    page = manager_client.get(reverse("desk:audit")).content.decode()
    assert "Gone soon" in page and "leaver" in page


def test_the_audit_log_pages_after_fifty(manager_client, demo_manager):
    _entries(demo_manager, CategoryFactory(), 60)
    first = manager_client.get(reverse("desk:audit"))
    assert len(first.context["page"].object_list) == 50
    second = manager_client.get(reverse("desk:audit"), {"page": 2, "actor": "manager"})
    assert len(second.context["page"].object_list) == 10
    assert "actor=manager&amp;page=1" in second.content.decode()


@pytest.fixture
def many_rows(demo_manager, calendar, policies):
    """Enough rows of every kind that a per-row query would show in the counts."""
    categories = [CategoryFactory() for _ in range(12)]
    for i in range(12):
        agent = make_agent(1 + i % 3, username=f"a{i}")
        ApiToken.objects.create(user=agent, name=f"t{i}", prefix=f"td_{i}", key_hash=f"{i:064d}")
        CannedResponse.objects.create(title=f"Canned {i}", body="x")
        Webhook.objects.create(name=f"W{i}", url=f"https://h{i}.example.com/", events=[])
        vendor = VendorFactory(name=f"V{i}")
        vendor.categories.set(categories[:3])
        UserFactory()
    _entries(demo_manager, categories[0], 80)


LIST_PAGES = [
    "desk:index",
    "desk:agents",
    "desk:categories",
    "desk:budgets",
    "desk:calendars",
    "desk:sla",
    "desk:vendors",
    "desk:canned",
    "desk:webhooks",
    "desk:tokens",
    "desk:audit",
]


@pytest.mark.parametrize("name", LIST_PAGES)
def test_list_pages_use_a_fixed_number_of_queries(
    manager_client, many_rows, django_assert_max_num_queries, name
):
    manager_client.get(reverse(name))  # warm the per-process caches of the layout
    with django_assert_max_num_queries(8):
        response = manager_client.get(reverse(name))
    assert response.status_code == 200


def test_the_filtered_audit_log_has_a_fixed_number_of_queries(
    manager_client, many_rows, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        response = manager_client.get(
            reverse("desk:audit"), {"actor": "manager", "action": "update", "page": 2}
        )
    assert len(response.context["page"].object_list) == 30

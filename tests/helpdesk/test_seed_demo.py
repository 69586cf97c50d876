from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from knowledgebase.models import Article
from tickets.models import CannedResponse, Category
from tiers.models import AgentProfile, BusinessCalendar, EscalationPolicy, SLAPolicy, VendorContact


def _snapshot() -> dict:
    User = get_user_model()
    return {
        "users": sorted(User.objects.values_list("username", "email")),
        "profiles": sorted(
            AgentProfile.objects.values_list("user__username", "tier", "is_manager")
        ),
        "categories": sorted(
            Category.objects.values_list("slug", "entry_tier", "default_priority")
        ),
        "policies": sorted(EscalationPolicy.objects.values_list("tier", "priority", "budget")),
        "sla": sorted(SLAPolicy.objects.values_list("priority", "first_response", "resolution")),
        "calendars": sorted(BusinessCalendar.objects.values_list("name", "is_24x7", "is_default")),
        "vendors": sorted(VendorContact.objects.values_list("email", "categories__slug")),
        "articles": sorted(Article.objects.values_list("slug", "status", "audience")),
        "canned": sorted(CannedResponse.objects.values_list("title", "tier")),
    }


@pytest.mark.django_db
def test_seed_demo_twice_leaves_the_same_data():
    call_command("seed_demo")
    first = _snapshot()
    call_command("seed_demo")
    assert _snapshot() == first


@pytest.mark.django_db
def test_seed_demo_honours_the_contract():
    call_command("seed_demo")
    for username in ("agent1", "agent2", "agent3", "manager", "customer"):
        assert authenticate(username=username, password="demo") is not None, username
    tiers = dict(AgentProfile.objects.values_list("user__username", "tier"))
    assert (tiers["agent1"], tiers["agent2"], tiers["agent3"]) == (1, 2, 3)
    assert AgentProfile.objects.get(user__username="manager").is_manager
    assert not AgentProfile.objects.filter(user__username="customer").exists()
    firmware = Category.objects.get(name="Firmware and security updates")
    assert VendorContact.objects.filter(categories=firmware).exists()
    # One category per line of the design's per-tier issue table; the vendor covers
    # every Tier 4 line of it.
    from helpdesk.demo_data import CATEGORIES, VENDOR_CATEGORY_SLUGS

    assert set(Category.objects.values_list("name", flat=True)) >= {c[0] for c in CATEGORIES}
    covered = set(VendorContact.objects.values_list("categories__slug", flat=True))
    assert covered >= set(VENDOR_CATEGORY_SLUGS)
    assert 18 <= Article.objects.filter(status="published").count() <= 30  # "~20 articles"
    assert BusinessCalendar.objects.get(is_default=True).is_24x7
    assert EscalationPolicy.objects.filter(tier=1).count() == 4
    assert Article.objects.filter(
        title__icontains="password", audience="public", status="published"
    ).exists()
    # login by e-mail works too
    assert authenticate(username="agent1@tierdesk.local", password="demo").username == "agent1"

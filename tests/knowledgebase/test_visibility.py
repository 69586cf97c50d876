"""Internal, draft and archived articles never reach customers: pages, search,
suggestions, related lists. Internal ones reach agents from their min tier up."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from knowledgebase.selectors import article_list_visible_to, article_search, article_suggest

HIDDEN_FROM_CUSTOMERS = [
    "t1-password-script",
    "t3-password-runbook",
    "password-draft",
    "password-archived",
]


@pytest.mark.parametrize("who", ["anonymous", "customer"])
def test_customers_see_only_published_public_articles(kb, customer, client, who):
    user = AnonymousUser() if who == "anonymous" else customer
    if who == "customer":
        client.force_login(customer)
    visible = set(article_list_visible_to(user=user).values_list("slug", flat=True))
    assert visible == {"printer-offline", "equipment-overview", "reset-your-password"}
    found = {a.slug for a in article_search(user=user, query="password", limit=50)}
    found |= {a.slug for a in article_search(user=user, query="pasword", limit=50)}
    found |= {
        a.slug
        for a in article_suggest(user=user, text="password reset call portal policy", limit=20)
    }
    assert found and not found & set(HIDDEN_FROM_CUSTOMERS)
    for slug in HIDDEN_FROM_CUSTOMERS:
        assert client.get(f"/kb/{slug}/").status_code == 404
    page = client.get("/kb/?q=password").content.decode()
    for title in ("Tier 1 script", "runbook", "Password policy draft", "Old password portal"):
        assert title not in page
    article_page = client.get("/kb/reset-your-password/").content.decode()
    assert "Tier 1 script" not in article_page  # not even as a related article


def test_internal_articles_follow_the_min_tier(kb, agent1, agent2, agent3, manager):
    def slugs(user):
        return set(article_list_visible_to(user=user).values_list("slug", flat=True))

    assert "t1-password-script" in slugs(agent1)
    assert "t3-password-runbook" not in slugs(agent1) | slugs(agent2)
    assert "t3-password-runbook" in slugs(agent3) & slugs(manager)
    for user in (agent1, agent2, agent3, manager):
        assert not slugs(user) & {"password-draft", "password-archived"}


def test_tier3_runbook_is_404_for_tier2(kb, agent2, client):
    client.force_login(agent2)
    assert client.get("/kb/t3-password-runbook/").status_code == 404
    assert client.get("/kb/manage/t3-password-runbook/").status_code == 404
    assert client.get("/kb/t1-password-script/").status_code == 200


def test_customers_cannot_reach_authoring_or_gaps(kb, customer, agent1, client):
    client.force_login(customer)
    for url in ["/kb/manage/", "/kb/manage/new/", "/kb/manage/password-draft/", "/kb/gaps/"]:
        assert client.get(url).status_code == 403, url
    assert client.post("/kb/manage/password-draft/publish/").status_code == 403
    client.force_login(agent1)
    assert client.get("/kb/gaps/").status_code == 403
    client.logout()
    assert client.get("/kb/manage/").status_code == 302  # to the login page


def test_visible_queryset_can_be_narrowed_by_callers(kb, customer):
    # Other apps call .only() on it (the portal's tracking page): no select_related inside.
    rows = article_list_visible_to(user=customer).only("title", "slug").order_by("slug")
    assert [a.slug for a in rows][:1] == ["equipment-overview"]


def test_search_results_are_never_shared_across_visibility_classes(kb, customer, agent1, agent3):
    """Readers of different classes, one after the other in one process, each get
    exactly their own articles, typo fallback included."""
    for _ in range(2):
        for user, allowed, denied in (
            (agent3, {"t3-password-runbook", "t1-password-script"}, set()),
            (AnonymousUser(), set(), {"t3-password-runbook", "t1-password-script"}),
            (agent1, {"t1-password-script"}, {"t3-password-runbook"}),
            (customer, set(), {"t1-password-script", "t3-password-runbook"}),
        ):
            for query in ("password", "pasword"):
                found = {a.slug for a in article_search(user=user, query=query, limit=50)}
                assert not found & (denied | set(HIDDEN_FROM_CUSTOMERS[2:])), (user, query)
                if query == "password":
                    assert allowed <= found, (user, query)

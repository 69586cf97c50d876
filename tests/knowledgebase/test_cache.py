"""The KB page's cached pieces (topic facet, search results): a write shows on the next
view, readers of different visibility never share an entry, a cache outage computes."""

from __future__ import annotations

import re

import pytest

from helpdesk import cache as caching
from knowledgebase import services
from knowledgebase.models import Article, SearchLog
from knowledgebase.selectors import visibility_class
from tests.factories import ArticleFactory, CategoryFactory
from tests.outage import DEAD_CACHE
from tiers.selectors import user_max_tier


def topics(html: str) -> dict[str, int]:
    """Topic name → count, as the page's sidebar shows them."""
    return {
        name: int(count)
        for name, count in re.findall(
            r'\?topic=[^"]+"[^>]*>([^<]+)</a> <span class="muted small">\((\d+)\)', html
        )
    }


def results(html: str) -> list[str]:
    return re.findall(r'<h3><a href="/kb/([^/?"]+)/', html)


@pytest.fixture
def network(db):
    cat = CategoryFactory(slug="network", name="Network")
    ArticleFactory(title="VPN drops", slug="vpn-drops", body="Reconnect the VPN.", category=cat)
    return cat


def test_publishing_an_article_shows_in_facet_and_results_on_the_next_view(
    network, client, manager, django_capture_on_commit_callbacks
):
    draft = ArticleFactory(
        title="VPN needs a token", slug="vpn-token", status="review", category=network
    )
    html = client.get("/kb/?q=vpn").content.decode()
    assert topics(html) == {"Network": 1} and results(html) == ["vpn-drops"]
    # Served from the cache now: the same view again reads nothing from the database.
    client.get("/kb/?q=vpn")

    with django_capture_on_commit_callbacks(execute=True):
        services.article_publish(actor=manager, article=draft)

    html = client.get("/kb/?q=vpn").content.decode()
    assert topics(html) == {"Network": 2}
    assert sorted(results(html)) == ["vpn-drops", "vpn-token"]


def test_archiving_an_article_removes_it_on_the_next_view(
    network, client, manager, django_capture_on_commit_callbacks
):
    html = client.get("/kb/?q=vpn").content.decode()
    assert topics(html) == {"Network": 1} and results(html) == ["vpn-drops"]
    with django_capture_on_commit_callbacks(execute=True):
        services.article_archive(actor=manager, article=Article.objects.get(slug="vpn-drops"))
    html = client.get("/kb/?q=vpn").content.decode()
    assert topics(html) == {}
    assert results(html) == []
    assert "No article matches" in html


def test_renaming_a_category_shows_on_the_next_view(
    network, client, django_capture_on_commit_callbacks
):
    assert topics(client.get("/kb/").content.decode()) == {"Network": 1}
    with django_capture_on_commit_callbacks(execute=True):
        network.name = "Networking"
        network.save()
    assert topics(client.get("/kb/").content.decode()) == {"Networking": 1}


def test_a_feedback_vote_invalidates_because_it_reorders_results(
    network, client, django_capture_on_commit_callbacks
):
    before = caching.version(caching.KB)
    with django_capture_on_commit_callbacks(execute=True):
        services.article_feedback_create(
            article=Article.objects.get(slug="vpn-drops"), helpful=True
        )
    assert caching.version(caching.KB) != before


def test_a_rolled_back_write_does_not_invalidate(network, django_capture_on_commit_callbacks):
    from django.db import transaction

    before = caching.version(caching.KB)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        network.name = "Renamed"
        network.save()
        transaction.set_rollback(True)
    assert caching.version(caching.KB) == before


def test_warm_search_page_reads_nothing_from_the_database(
    network, client, django_assert_num_queries
):
    client.get("/kb/?q=vpn")
    with django_assert_num_queries(0):
        html = client.get("/kb/?q=vpn").content.decode()
    assert results(html) == ["vpn-drops"]


def test_cached_results_are_never_shared_across_visibility(
    network, client, agent1, agent3, manager
):
    ArticleFactory(
        title="VPN tier 3 runbook",
        slug="vpn-t3",
        audience="internal",
        min_tier=3,
        category=network,
    )
    ArticleFactory(
        title="VPN tier 1 script",
        slug="vpn-t1",
        audience="internal",
        min_tier=1,
        category=network,
    )
    # Anonymous first: what it caches must not reach the agents, and the reverse.
    html = client.get("/kb/?q=vpn").content.decode()
    assert topics(html) == {"Network": 1} and sorted(results(html)) == ["vpn-drops"]
    client.force_login(agent1)
    html = client.get("/kb/?q=vpn").content.decode()
    assert topics(html) == {"Network": 2} and sorted(results(html)) == ["vpn-drops", "vpn-t1"]
    client.force_login(agent3)
    html = client.get("/kb/?q=vpn").content.decode()
    assert topics(html) == {"Network": 3}
    client.logout()
    html = client.get("/kb/?q=vpn").content.decode()
    assert topics(html) == {"Network": 1} and sorted(results(html)) == ["vpn-drops"]
    # One class per reach of the audience rule (user_max_tier), never per user.
    assert [visibility_class(u) for u in (None, agent1, agent3, manager)] == [
        "public",
        "tier1",
        f"tier{user_max_tier(agent3)}",
        "all",
    ]


def test_api_search_uses_the_same_cache_and_visibility(network, client, agent3):
    ArticleFactory(title="VPN runbook", slug="vpn-t3", audience="internal", min_tier=3)
    anon = [a["slug"] for a in client.get("/api/v1/kb/articles/?q=vpn").json()]
    client.force_login(agent3)
    staff = [a["slug"] for a in client.get("/api/v1/kb/articles/?q=vpn").json()]
    assert anon == ["vpn-drops"]
    assert sorted(staff) == ["vpn-drops", "vpn-t3"]


def test_a_search_that_finds_nothing_is_counted_every_time_even_cached(db, client):
    client.get("/kb/?q=quantum flux")
    client.get("/kb/?q=Quantum  Flux")
    assert SearchLog.objects.get(query="quantum flux").count == 2


def test_cache_outage_computes_instead_of_failing(network, client, settings, manager):
    settings.CACHES = DEAD_CACHE  # no Redis answers
    html = client.get("/kb/?q=vpn").content.decode()
    assert topics(html) == {"Network": 1} and results(html) == ["vpn-drops"]
    # A write during the outage still succeeds (the bump is skipped with a log line).
    services.article_archive(actor=manager, article=Article.objects.get(slug="vpn-drops"))
    assert results(client.get("/kb/?q=vpn").content.decode()) == []


def test_htmx_search_skips_the_facet(network, client, django_assert_num_queries):
    # Cold cache: only the search runs; the facet is not part of the swapped results.
    with django_assert_num_queries(1):
        html = client.get("/kb/?q=vpn", headers={"HX-Request": "true"}).content.decode()
    assert results(html) == ["vpn-drops"] and "Topics" not in html


def test_page_pieces_are_read_in_two_cache_round_trips(network, client, monkeypatch):
    from django.core.cache import cache

    client.get("/kb/?q=vpn")  # fills the cache
    calls = []

    class Recording:
        def __getattr__(self, name):
            calls.append(name)
            return getattr(cache, name)

    monkeypatch.setattr("helpdesk.cache.cache", Recording())
    assert results(client.get("/kb/?q=vpn").content.decode()) == ["vpn-drops"]
    assert calls == ["get_many", "get_many"]  # the version, then facet and results together


def test_cached_results_markup_escapes_and_repeats_only_the_readers_own_query(network, client):
    evil = "<script>alert(1)</script> vpn"
    for _ in range(2):  # computed, then from the cache
        html = client.get("/kb/", {"q": evil}).content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; vpn" in html
    # Same words, other spelling: its own markup (the heading repeats what was typed).
    html = client.get("/kb/", {"q": "VPN"}).content.decode()
    assert "Results for “VPN”" in html and "alert(1)" not in html
    assert results(html) == ["vpn-drops"]


def test_cached_pieces_hold_nothing_of_the_reader(network, client, agent1):
    from knowledgebase.selectors import kb_search_page_pieces

    client.force_login(agent1)
    client.get("/kb/?q=vpn")  # fills the cache as this agent
    topics_html, results_html = kb_search_page_pieces(user=agent1, query="vpn")
    for piece in (topics_html, results_html):
        assert "csrf" not in piece.lower()
        assert agent1.username not in piece


def test_topic_page_marks_the_chosen_topic(network, client):
    client.get("/kb/?q=vpn")  # caches the facet of the plain search page
    html = client.get("/kb/?topic=network").content.decode()
    assert 'aria-current="page"' in html
    assert results(html) == ["vpn-drops"]

"""The KB pages: query bounds, feedback, related articles, the ticket link, gaps."""

from __future__ import annotations

import pytest

from knowledgebase.models import ArticleFeedback, SearchLog
from tests.factories import ArticleFactory, CategoryFactory


@pytest.fixture
def many(db):
    cat = CategoryFactory(slug="network", name="Network")
    for i in range(30):
        ArticleFactory(
            title=f"VPN problem {i}",
            slug=f"vpn-{i}",
            body=f"Reconnect the VPN, step {i}.",
            category=cat,
            helpful_yes=i,
        )


def test_index_and_search_query_counts_do_not_grow(
    many, client, agent1, django_assert_max_num_queries
):
    with django_assert_max_num_queries(4):
        response = client.get("/kb/")
    assert "Most helpful" in response.content.decode()
    with django_assert_max_num_queries(4):
        response = client.get("/kb/?q=vpn")
    assert response.content.decode().count('class="card kb-result"') == 30
    with django_assert_max_num_queries(4):
        client.get("/kb/?topic=network")
    client.force_login(agent1)
    with django_assert_max_num_queries(8):
        client.get("/kb/?q=vpn")
    with django_assert_max_num_queries(10):
        client.get("/kb/vpn-3/")
    with django_assert_max_num_queries(12):
        client.get("/kb/manage/")


def test_htmx_search_returns_only_the_results(many, client):
    response = client.get("/kb/?q=vpn", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html and "VPN problem" in html


def test_article_page_counts_views_and_links_a_prefilled_ticket(many, client):
    response = client.get("/kb/vpn-3/?q=vpn drops")
    html = response.content.decode()
    assert "/tickets/new/?subject=vpn+drops" in html
    assert "Related articles" in html and "VPN problem 29" in html
    client.get("/kb/vpn-3/")
    from knowledgebase.models import Article

    assert Article.objects.get(slug="vpn-3").view_count == 2
    assert "/tickets/new/?subject=VPN+problem+3" in client.get("/kb/vpn-3/").content.decode()


def test_feedback_counts_and_keeps_the_comment(many, client):
    response = client.post("/kb/vpn-3/feedback/", {"helpful": "no", "comment": "Step 2 is wrong"})
    assert response.status_code == 302
    feedback = ArticleFeedback.objects.get()
    assert (feedback.helpful, feedback.comment) == (False, "Step 2 is wrong")
    from knowledgebase.models import Article

    assert Article.objects.get(slug="vpn-3").helpful_no == 1
    response = client.post("/kb/vpn-3/feedback/", {"helpful": "maybe"}, follow=True)
    assert "Choose yes or no." in response.content.decode()
    assert client.post("/kb/nope/feedback/", {"helpful": "yes"}).status_code == 404


def test_unknown_topic_is_404(many, client):
    assert client.get("/kb/?topic=nope").status_code == 404


def test_gaps_list_missing_article_escalations_and_empty_searches(client, agent3, make_ticket):
    from tickets.models import TicketEvent
    from tickets.services.core import ticket_event_create

    ticket = make_ticket(subject="Quantum flux capacitor broken")
    ticket_event_create(
        ticket=ticket,
        actor=agent3,
        kind=TicketEvent.Kind.AVOIDABLE,
        data={
            "tier": 1,
            "article": None,
            "missing_article": True,
            "escalated_by": agent3.pk,
            "category_id": ticket.category_id,
            "escalation_event_id": None,
        },
    )
    client.get("/kb/?q=Quantum  FLUX")
    assert SearchLog.objects.get().query == "quantum flux"
    client.force_login(agent3)
    html = client.get("/kb/gaps/").content.decode()
    assert "Password reset" in html  # the category of the escalated ticket
    assert "“quantum flux”" in html
    assert html.count(f">{ticket.reference}</a>") == 2  # behind both entries
    assert "/kb/manage/new/?title=quantum%20flux" in html


def test_editor_preview_is_sanitized_and_staff_only(client, agent1, customer):
    client.force_login(agent1)
    html = client.post(
        "/kb/manage/preview/", {"body": "**bold** <script>x()</script>[a](javascript:y())"}
    ).content.decode()
    assert "<strong>bold</strong>" in html and "<script" not in html and "javascript:" not in html
    client.force_login(customer)
    assert client.post("/kb/manage/preview/", {"body": "x"}).status_code == 403

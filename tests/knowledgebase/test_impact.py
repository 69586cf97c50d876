"""Tickets resolved with an article, and tickets it deflected."""

from __future__ import annotations

from django.utils import timezone

from knowledgebase.models import Article
from knowledgebase.selectors import with_impact
from tests.factories import ArticleFactory


def test_resolved_and_deflected_counts(agent1, make_ticket):
    from tickets.models import Deflection
    from tickets.services import core

    article = ArticleFactory(slug="vpn")
    ticket = make_ticket()
    core.ticket_claim(ticket=ticket, agent=agent1)
    core.ticket_resolve(ticket=ticket, actor=agent1, resolution="See article", article=article)
    now = timezone.now()
    Deflection.objects.create(session_key="s1", article=article, opened_at=now)  # deflected
    Deflection.objects.create(session_key="s2", article=article)  # shown, not opened
    Deflection.objects.create(session_key="s3", article=article, opened_at=now, ticket=ticket)
    # opened, but the same session submitted a ticket through another suggestion row
    other = ArticleFactory(slug="other")
    Deflection.objects.create(session_key="s4", article=article, opened_at=now)
    Deflection.objects.create(session_key="s4", article=other, ticket=ticket)
    row = with_impact(Article.objects.filter(pk=article.pk)).get()
    assert (row.resolved_count, row.deflected_count) == (1, 1)


def test_staff_article_page_shows_the_counts(agent1, make_ticket, client):
    from tickets.services import core

    article = ArticleFactory(slug="vpn")
    ticket = make_ticket()
    core.ticket_claim(ticket=ticket, agent=agent1)
    core.ticket_resolve(ticket=ticket, actor=agent1, resolution="See article", article=article)
    client.force_login(agent1)
    html = client.get(article.get_absolute_url()).content.decode()
    assert "<strong>1</strong> tickets resolved with it" in html
    assert "<strong>0</strong> tickets deflected" in html

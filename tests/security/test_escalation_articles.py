"""Security review #26, item 3a: a hand-off records only KB articles its author may
read, whether it comes from the web form or the API (one check, in the service)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from knowledgebase.models import Article
from tests.factories import ArticleFactory
from tickets.models import TicketEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def slugs(db) -> dict[str, str]:
    public = ArticleFactory(slug="reset-your-password")
    internal = ArticleFactory(
        slug="tier3-db-failover", audience=Article.Audience.INTERNAL, min_tier=3
    )
    draft = ArticleFactory(slug="unreleased-fix", status=Article.Status.DRAFT)
    return {"public": public.slug, "internal": internal.slug, "draft": draft.slug}


def picked(slugs: dict[str, str]) -> list[str]:
    return [
        slugs["internal"],
        slugs["public"],
        "no-such-article",
        slugs["draft"],
        slugs["public"],
    ]


def handoff_of(ticket) -> tuple[list[str], str]:
    event = ticket.events.get(kind=TicketEvent.Kind.ESCALATED)
    return event.data["handoff"]["articles"], event.body


def test_the_api_keeps_only_articles_the_agent_may_read(agent1, make_ticket, slugs):
    ticket = make_ticket()
    client = APIClient()
    client.force_login(agent1)
    response = client.post(
        f"/api/v1/tickets/{ticket.reference}/escalate/",
        {"symptom": "s", "steps_tried": "t", "findings": "f", "articles": picked(slugs)},
        format="json",
    )
    assert response.status_code == 200, response.content
    articles, body = handoff_of(ticket)
    assert articles == [slugs["public"]]
    assert slugs["internal"] not in body and "no-such-article" not in body


def test_the_web_form_keeps_the_same_articles(client, agent1, make_ticket, slugs):
    ticket = make_ticket()
    client.force_login(agent1)
    response = client.post(
        f"/agent/tickets/{ticket.reference}/escalate/",
        {"symptom": "s", "steps_tried": "t", "findings": "f", "articles": picked(slugs)},
    )
    assert response.status_code in (200, 302)
    assert handoff_of(ticket)[0] == [slugs["public"]]


def test_an_agent_of_the_article_s_tier_may_cite_it(agent2, make_ticket, slugs, agent1):
    from tickets.services import ticket_escalate

    ticket = make_ticket()
    ticket = ticket_escalate(
        ticket=ticket, actor=agent1, symptom="s", steps_tried="t", findings="f"
    )
    internal_t2 = ArticleFactory(slug="tier2-vpn", audience=Article.Audience.INTERNAL, min_tier=2)
    client = APIClient()
    client.force_login(agent2)
    response = client.post(
        f"/api/v1/tickets/{ticket.reference}/escalate/",
        {"symptom": "s", "steps_tried": "t", "findings": "f",
         "articles": [internal_t2.slug, slugs["internal"]]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    last = ticket.events.filter(kind=TicketEvent.Kind.ESCALATED).order_by("-id").first()
    assert last.data["handoff"]["articles"] == [internal_t2.slug]

"""The ticket page's three article pickers (escalate, avoidable, resolve) list the
ticket's suggested articles, not the KB: the search beside each one (static/js/agent.js)
adds any other article. The server accepts any article the agent may read, listed or
not, and a refused POST shows the agent's picks again."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from knowledgebase.models import Article
from tests.factories import ArticleFactory
from tickets.models import Ticket, TicketEvent
from tickets.services import core

pytestmark = pytest.mark.django_db
HANDOFF = {"symptom": "VPN drops", "steps_tried": "Reinstalled", "findings": "Resets"}


@pytest.fixture(autouse=True)
def _private_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "picker-tests",
        }
    }
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def ticket(make_ticket):
    # The default text ("Cannot log in", "My password stopped working…") suggests
    # the password articles below and none of the filler ones.
    return make_ticket()


@pytest.fixture
def kb():
    suggested = [
        ArticleFactory(slug="reset-password", title="Reset your password", summary="Password"),
        ArticleFactory(slug="login-help", title="Cannot log in", summary="Login password"),
    ]
    filler = Article.objects.bulk_create(ArticleFactory.build_batch(400))
    unrelated = ArticleFactory(slug="printer-jams", title="Clearing printer jams", summary="Tray")
    return {"suggested": suggested, "filler": filler, "unrelated": unrelated}


def url(name: str, ticket: Ticket) -> str:
    return reverse(f"tickets:{name}", kwargs={"reference": ticket.reference})


def select(html: str, select_id: str) -> str:
    return html.split(f'<select id="{select_id}"', 1)[1].split("</select>", 1)[0]


def options(html: str, select_id: str) -> list[tuple[str, bool]]:
    """``(value, selected)`` of each option of the select."""
    return [
        (value, bool(selected))
        for value, selected in re.findall(
            r'<option value="([^"]*)"( selected)?>', select(html, select_id)
        )
    ]


def test_the_pickers_list_the_suggested_articles_not_the_kb(
    client, ticket, kb, agent1, django_assert_max_num_queries
):
    client.force_login(agent1)
    with django_assert_max_num_queries(12):  # cold: every piece computed
        html = client.get(url("agent-ticket", ticket)).content.decode()
    for picker in ("res-article", "esc-articles"):
        values = [value for value, _selected in options(html, picker)]
        assert len(values) < 20
        assert {"reset-password", "login-help"} <= set(values)
        assert "printer-jams" not in values and "article-0" not in values
    assert options(html, "res-article")[0] == ("", False)  # "(none)" stays
    assert "printer-jams" not in html
    with django_assert_max_num_queries(12):  # warm
        assert client.get(url("agent-ticket", ticket)).status_code == 200


def test_each_picker_has_its_own_search_hidden_until_the_script_runs(client, ticket, agent1):
    client.force_login(agent1)
    html = client.get(url("agent-ticket", ticket)).content.decode()
    suggest = reverse("api-kb-suggest")
    for picker in ("res-article", "esc-articles"):
        box = html.split(f'data-kb-picker="{picker}"', 1)[0].rsplit('<div class="kb-picker"', 1)[1]
        assert box.startswith(" hidden>")  # without JS the suggested articles are the choice
        assert (
            f'<label for="{picker}-search" class="small">Search the knowledge base</label>' in box
        )
        assert f'id="{picker}-search"' in box
        assert html.count(f'data-kb-picker="{picker}" data-kb-suggest="{suggest}"') == 1


def test_a_refused_resolve_keeps_a_searched_article_selected(client, ticket, kb, agent1):
    client.force_login(agent1)
    response = client.post(
        url("agent-resolve", ticket), {"resolution": "", "article": "printer-jams"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert ("printer-jams", True) in options(html, "res-article")
    assert '<option value="printer-jams" selected>Clearing printer jams</option>' in html
    # Only the picker that was posted shows it; the suggestions stay.
    assert "printer-jams" not in select(html, "esc-articles")
    assert ("reset-password", False) in options(html, "res-article")


def test_a_refused_resolve_keeps_a_suggested_article_selected(client, ticket, kb, agent1):
    client.force_login(agent1)
    response = client.post(
        url("agent-resolve", ticket), {"resolution": "", "article": "reset-password"}
    )
    assert response.status_code == 400
    chosen = [value for value, selected in options(response.content.decode(), "res-article")]
    assert chosen.count("reset-password") == 1
    assert ("reset-password", True) in options(response.content.decode(), "res-article")


def test_a_refused_escalation_keeps_every_pick_selected(client, ticket, kb, agent1):
    client.force_login(agent1)
    response = client.post(
        url("agent-escalate", ticket),
        {**HANDOFF, "symptom": "", "articles": ["printer-jams", "login-help"], "tier": "1"},
    )
    assert response.status_code == 400
    listed = options(response.content.decode(), "esc-articles")
    assert ("printer-jams", True) in listed and ("login-help", True) in listed
    assert ("reset-password", False) in listed


def test_a_refused_post_lists_only_picks_the_agent_may_read(client, ticket, kb, agent1):
    ArticleFactory(slug="draft-one", title="Draft", status=Article.Status.DRAFT)
    ArticleFactory(
        slug="runbook", title="Tier 3 runbook", audience=Article.Audience.INTERNAL, min_tier=3
    )
    client.force_login(agent1)
    response = client.post(
        url("agent-escalate", ticket),
        {**HANDOFF, "symptom": "", "articles": ["draft-one", "runbook", "<b>x</b>"], "tier": "1"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "draft-one" not in html and "Tier 3 runbook" not in html and "<b>x</b>" not in html


def test_a_searched_title_is_escaped(client, ticket, agent1):
    ArticleFactory(slug="xss", title="<script>alert(1)</script> fix")
    client.force_login(agent1)
    response = client.post(url("agent-resolve", ticket), {"resolution": "", "article": "xss"})
    html = response.content.decode()
    assert '<option value="xss" selected>&lt;script&gt;alert(1)&lt;/script&gt; fix</option>' in html
    assert "<script>alert(1)" not in html


def test_escalate_accepts_any_article_the_agent_may_read(client, ticket, kb, agent1):
    ArticleFactory(slug="draft-one", title="Draft", status=Article.Status.DRAFT)
    ArticleFactory(
        slug="vpn-script", title="VPN script", audience=Article.Audience.INTERNAL, min_tier=1
    )
    ArticleFactory(
        slug="runbook", title="Tier 3 runbook", audience=Article.Audience.INTERNAL, min_tier=3
    )
    client.force_login(agent1)
    posted = ["printer-jams", "vpn-script", "draft-one", "runbook", "made-up", "reset-password"]
    response = client.post(
        url("agent-escalate", ticket), {**HANDOFF, "articles": posted, "tier": "1"}
    )
    assert response.status_code == 302
    event = ticket.events.get(kind=TicketEvent.Kind.ESCALATED)
    # Not listed on the page but readable: recorded; unpublished, above the agent's
    # tier or unknown: left out, as before.
    assert event.data["handoff"]["articles"] == ["printer-jams", "vpn-script", "reset-password"]


def test_resolve_accepts_an_article_that_was_not_listed(client, ticket, kb, agent1):
    client.force_login(agent1)
    response = client.post(
        url("agent-resolve", ticket), {"resolution": "Cleared it", "article": "printer-jams"}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.resolved_article == kb["unrelated"]


@pytest.mark.parametrize("slug", ["draft-one", "runbook", "made-up"])
def test_resolve_refuses_an_article_the_agent_may_not_read(client, ticket, agent1, slug):
    ArticleFactory(slug="draft-one", title="Draft", status=Article.Status.DRAFT)
    ArticleFactory(
        slug="runbook", title="Tier 3 runbook", audience=Article.Audience.INTERNAL, min_tier=3
    )
    client.force_login(agent1)
    response = client.post(url("agent-resolve", ticket), {"resolution": "Done", "article": slug})
    assert response.status_code == 400 and b"Unknown article." in response.content
    ticket.refresh_from_db()
    assert ticket.status != Ticket.Status.RESOLVED


def test_avoidable_accepts_an_article_that_was_not_listed(client, ticket, kb, agent1, agent2):
    core.ticket_claim(ticket=ticket, agent=agent1)
    core.ticket_escalate(ticket=ticket, actor=agent1, expected_tier=1, **HANDOFF)
    client.force_login(agent2)
    html = client.get(url("agent-ticket", ticket)).content.decode()
    assert "printer-jams" not in select(html, "av-article")
    response = client.post(url("agent-avoidable", ticket), {"tier": "9", "article": "printer-jams"})
    assert response.status_code == 400  # refused: the pick stays, in that picker only
    html = response.content.decode()
    assert ("printer-jams", True) in options(html, "av-article")
    assert "printer-jams" not in select(html, "res-article")
    response = client.post(url("agent-avoidable", ticket), {"tier": "1", "article": "printer-jams"})
    assert response.status_code == 302
    assert ticket.events.get(kind=TicketEvent.Kind.AVOIDABLE).data["article"] == "printer-jams"

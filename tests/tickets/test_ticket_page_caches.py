"""The agent ticket page and the tracking page share rendered pieces through the cache
(event HTML, KB suggestions, the article pickers). These tests hold the caches to
their contract: a write shows on the next view, nothing private leaks through a shared
piece, user text stays sanitized when it comes back from the cache, a cache outage
degrades to computing, and the query counts do not grow with the timeline."""

from __future__ import annotations

from functools import partial

import pytest
import time_machine
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from helpdesk import cache as caching
from helpdesk import markdown
from knowledgebase.models import Article
from knowledgebase.services import article_archive
from tests.factories import ArticleFactory
from tests.outage import DEAD_CACHE
from tickets.models import Ticket
from tickets.services import core
from tickets.services.attachments import attachment_add

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
XSS = (
    "<script>alert('x1')</script> [click](javascript:alert('x2')) "
    '<img src="x" onerror="alert(\'x3\')"> <a href="#" onclick="alert(\'x4\')">a</a>'
)


def agent_url(ticket: Ticket) -> str:
    return reverse("tickets:agent-ticket", kwargs={"reference": ticket.reference})


def track_url(ticket: Ticket) -> str:
    return reverse("tickets:track", kwargs={"token": ticket.tracking_token})


def agent_page(client, user, ticket: Ticket) -> str:
    client.force_login(user)
    response = client.get(agent_url(ticket))
    assert response.status_code == 200
    return response.content.decode()


def track_page(client, ticket: Ticket) -> str:
    client.logout()
    response = client.get(track_url(ticket))
    assert response.status_code == 200
    return response.content.decode()


# ---------------------------------------------------------------------------
# A write shows on the next view
# ---------------------------------------------------------------------------


def test_reply_note_status_and_escalation_show_on_the_next_view(
    client, make_ticket, agent1, agent2
):
    ticket = make_ticket()
    core.ticket_claim(ticket=ticket, agent=agent1)
    agent_page(client, agent1, ticket)  # warm every cache
    track_page(client, ticket)

    core.ticket_reply(ticket=ticket, agent=agent1, body="First **public** answer")
    assert "First <strong>public</strong> answer" in agent_page(client, agent1, ticket)
    assert "First <strong>public</strong> answer" in track_page(client, ticket)

    core.ticket_add_note(ticket=ticket, agent=agent1, body="Checked the logs PRIVATE-NOTE")
    assert "PRIVATE-NOTE" in agent_page(client, agent1, ticket)
    assert "PRIVATE-NOTE" not in track_page(client, ticket)

    core.ticket_change_status(
        ticket=ticket, actor=agent1, status="pending_customer", reason="Please try again"
    )
    assert "Please try again" in agent_page(client, agent1, ticket)
    html = track_page(client, ticket)
    assert "Please try again" in html and "We are waiting for your answer" in html

    core.ticket_customer_reply(ticket=ticket, body="Still *broken*")
    ticket.refresh_from_db()
    core.ticket_escalate(
        ticket=ticket,
        actor=agent1,
        symptom="SECRET-SYMPTOM",
        steps_tried="Reinstalled",
        findings="Server resets",
    )
    html = agent_page(client, agent2, ticket)
    assert "SECRET-SYMPTOM" in html and "Still <em>broken</em>" in html
    html = track_page(client, ticket)
    assert "Still <em>broken</em>" in html and "with our technical team" in html
    assert "SECRET-SYMPTOM" not in html and "PRIVATE-NOTE" not in html


def test_internal_note_with_the_same_text_as_a_reply_never_reaches_the_tracking_page(
    client, make_ticket, agent1
):
    """Rendered HTML is shared by text, so a note's HTML is in the cache; what the
    customer sees is still decided by the event, not by the cache."""
    ticket = make_ticket()
    core.ticket_claim(ticket=ticket, agent=agent1)
    core.ticket_add_note(ticket=ticket, agent=agent1, body="Customer is on the **VIP** list")
    agent_page(client, agent1, ticket)  # the note's HTML is now cached
    for _ in range(2):  # cold, then warm
        assert "VIP" not in track_page(client, ticket)
    other = make_ticket(requester_email="someone@example.com")
    core.ticket_claim(ticket=other, agent=agent1)
    core.ticket_reply(ticket=other, agent=agent1, body="Customer is on the **VIP** list")
    assert "<strong>VIP</strong>" in track_page(client, other)  # same text, public there
    assert "VIP" not in track_page(client, ticket)


def test_event_html_is_sanitized_cold_and_warm(client, make_ticket, agent1):
    ticket = make_ticket(description=XSS)
    core.ticket_claim(ticket=ticket, agent=agent1)
    core.ticket_reply(ticket=ticket, agent=agent1, body=XSS)
    core.ticket_customer_reply(ticket=ticket, body=XSS)
    core.ticket_add_note(ticket=ticket, agent=agent1, body=XSS)
    for _ in range(2):  # the first view renders and stores, the second reads the cache
        for html in (agent_page(client, agent1, ticket), track_page(client, ticket)):
            assert "<script>alert" not in html
            assert "javascript:alert" not in html
            assert "onerror=" not in html and "onclick=" not in html
    key = markdown.markdown_cache_key(XSS)
    stored = cache.get(key)
    assert stored is not None and "<script" not in stored and "onerror" not in stored


def test_markdown_cache_is_keyed_by_text_and_renderer_version(monkeypatch):
    texts = ["**a**", "b <script>x</script>", ""]
    many = markdown.render_markdown_many(texts)
    assert many == {t: markdown.render_markdown(t) for t in texts if t}
    assert cache.get(markdown.markdown_cache_key("**a**")) == "<p><strong>a</strong></p>"
    # Another sanitizer configuration is another key space: nothing stored under the
    # old rules is served under the new ones.
    old = markdown.markdown_cache_key("**a**")
    monkeypatch.setattr(markdown, "RENDER_VERSION", "other")
    assert markdown.markdown_cache_key("**a**") != old
    assert markdown.render_markdown_many(["**a**"])["**a**"] == "<p><strong>a</strong></p>"


# ---------------------------------------------------------------------------
# KB pieces: suggestions and the article pickers follow every article write
# ---------------------------------------------------------------------------


def test_published_and_archived_articles_show_on_the_next_view(
    client, make_ticket, agent1, manager, django_capture_on_commit_callbacks
):
    # KB writes bump the KB version after commit: run those callbacks as a request would.
    committed = partial(django_capture_on_commit_callbacks, execute=True)
    ticket = make_ticket(subject="Printer jams on tray two", description="Paper jam again.")
    html = agent_page(client, agent1, ticket)
    assert "Clearing printer jams" not in html
    with committed():
        article = ArticleFactory(
            title="Clearing printer jams", slug="printer-jams", summary="Printer jam tray paper"
        )
    html = agent_page(client, agent1, ticket)
    kb = html.split('id="kb-title"', 1)[1].split("</section>", 1)[0]
    assert "Clearing printer jams" in kb  # suggested
    assert '<option value="printer-jams">Clearing printer jams</option>' in html  # pickers
    article.title = "Clearing <b>printer</b> jams"
    with committed():
        article.save()
    html = agent_page(client, agent1, ticket)
    assert "Clearing &lt;b&gt;printer&lt;/b&gt; jams" in html and "<b>printer</b>" not in html
    with committed():
        article_archive(actor=manager, article=Article.objects.get(pk=article.pk))
    html = agent_page(client, agent1, ticket)
    assert "printer-jams" not in html


def test_internal_articles_are_shared_only_within_a_tier(client, make_ticket, agent1, agent3):
    """Pickers and suggestions are cached per visibility class: a Tier 3 article
    warmed by a Tier 3 agent never reaches a Tier 1 agent's page."""
    ArticleFactory(
        title="Printer firmware rollback",
        slug="fw-rollback",
        summary="Printer jam firmware",
        audience=Article.Audience.INTERNAL,
        min_tier=3,
    )
    ticket = make_ticket(subject="Printer jams on tray two", description="Paper jam again.")
    assert "fw-rollback" in agent_page(client, agent3, ticket)
    html = agent_page(client, agent1, ticket)
    assert "fw-rollback" not in html and "Printer firmware rollback" not in html


def test_the_page_uses_the_kb_version_every_kb_write_bumps(django_capture_on_commit_callbacks):
    before = caching.version(caching.KB)
    with django_capture_on_commit_callbacks(execute=True):
        article = ArticleFactory()
    after_create = caching.version(caching.KB)
    assert after_create and after_create != before
    with django_capture_on_commit_callbacks(execute=True):
        article.delete()
    assert caching.version(caching.KB) not in (before, after_create)


def test_refused_avoidable_keeps_the_chosen_article_selected(client, make_ticket, agent1, agent2):
    ArticleFactory(title="VPN basics", slug="vpn-basics")
    ticket = make_ticket()
    core.ticket_claim(ticket=ticket, agent=agent1)
    core.ticket_escalate(
        ticket=ticket, actor=agent1, symptom="s", steps_tried="t", findings="f", expected_tier=1
    )
    client.force_login(agent2)
    response = client.post(
        reverse("tickets:agent-avoidable", kwargs={"reference": ticket.reference}),
        {"tier": "9", "article": "vpn-basics"},
    )
    assert response.status_code == 400
    picker = response.content.decode().split('id="av-article"', 1)[1].split("</select>", 1)[0]
    assert '<option value="vpn-basics" selected>VPN basics</option>' in picker


# ---------------------------------------------------------------------------
# A cache outage costs CPU, not the page
# ---------------------------------------------------------------------------


def test_pages_render_when_the_cache_is_down(client, make_ticket, agent1, settings):
    ArticleFactory(title="Login help", slug="login-help", summary="Cannot log in password")
    ticket = make_ticket()
    core.ticket_claim(ticket=ticket, agent=agent1)
    core.ticket_reply(ticket=ticket, agent=agent1, body="Try **this**")
    client.force_login(agent1)
    settings.CACHES = DEAD_CACHE
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    assert caching.version(caching.KB) is None
    response = client.get(agent_url(ticket))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Try <strong>this</strong>" in html
    assert "Login help" in html and 'value="login-help"' in html
    client.logout()
    response = client.get(track_url(ticket))
    assert response.status_code == 200
    assert "Try <strong>this</strong>" in response.content.decode()


# ---------------------------------------------------------------------------
# Query counts do not grow with the timeline
# ---------------------------------------------------------------------------


def _busy(ticket: Ticket, agent, n: int) -> None:
    for i in range(n):
        event = core.ticket_reply(ticket=ticket, agent=agent, body=f"Reply **{i}**")
        attachment_add(
            ticket=ticket,
            event=event,
            upload=SimpleUploadedFile(f"f{i}.png", PNG, content_type="image/png"),
        )
        core.ticket_add_note(ticket=ticket, agent=agent, body=f"note {i}")
        core.ticket_customer_reply(ticket=ticket, body=f"customer {i}")


def _count(client, url: str) -> int:
    from django.db import connection

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_query_counts_are_constant_in_the_number_of_events(
    client, make_ticket, agent1, agent2, settings, tmp_path, django_assert_max_num_queries
):
    settings.MEDIA_ROOT = tmp_path
    small, big = make_ticket(), make_ticket(requester_email="other@example.com")
    for t in (small, big):
        core.ticket_claim(ticket=t, agent=agent1)
    _busy(small, agent1, 1)
    _busy(big, agent1, 25)
    client.force_login(agent2)
    for t in (small, big):
        client.get(agent_url(t))  # warm
    assert _count(client, agent_url(small)) == _count(client, agent_url(big))
    with django_assert_max_num_queries(12):
        html = client.get(agent_url(big)).content.decode()
    assert "Reply <strong>24</strong>" in html and "note 24" in html and "f24.png" in html
    cache.clear()  # cold: every piece computed again
    # 13: besides the block's pieces, the edit panel's active categories (a per-process
    # memo, emptied with the cache here) and the automation panel's tags and macros.
    with django_assert_max_num_queries(13):
        client.get(agent_url(big))

    client.logout()
    assert _count(client, track_url(small)) == _count(client, track_url(big))
    cache.clear()  # cold: the block is rendered, not read from the cache
    # The key row (all a cached page needs), then the ticket, events, attachments.
    with django_assert_max_num_queries(4):
        html = client.get(track_url(big)).content.decode()
    assert html.count("Reply <strong>") == 25 and "note 24" not in html
    assert html.count("f24.png") == 2  # on its reply and in the files list


# ---------------------------------------------------------------------------
# Agents and canned responses: shared, and following every write
# ---------------------------------------------------------------------------


def test_new_renamed_and_deactivated_agents_show_on_the_next_view(
    client, make_ticket, agent1, django_capture_on_commit_callbacks
):
    from tests.factories import make_agent
    from tiers.models import AgentProfile

    # The versions are bumped after commit: run those callbacks as a request would.
    committed = partial(django_capture_on_commit_callbacks, execute=True)
    ticket = make_ticket()
    agent_page(client, agent1, ticket)
    with committed():
        newcomer = make_agent(tier=1, username="newcomer")
    picker = agent_page(client, agent1, ticket).split('id="assignee"', 1)[1].split("</select>")[0]
    assert f'<option value="{newcomer.pk}">newcomer (Tier 1)</option>' in picker
    newcomer.username = "renamed<x>"
    with committed():
        newcomer.save()
    picker = agent_page(client, agent1, ticket).split('id="assignee"', 1)[1].split("</select>")[0]
    assert "renamed&lt;x&gt; (Tier 1)" in picker and "newcomer" not in picker
    profile = AgentProfile.objects.get(user=newcomer)
    profile.is_active = False
    with committed():
        profile.save()
    picker = agent_page(client, agent1, ticket).split('id="assignee"', 1)[1].split("</select>")[0]
    assert f'value="{newcomer.pk}"' not in picker


def test_canned_responses_follow_edits_and_tiers(
    client, make_ticket, agent1, agent3, django_capture_on_commit_callbacks
):
    from tickets.models import CannedResponse

    ticket = make_ticket()
    core.ticket_claim(ticket=ticket, agent=agent1)
    first = CannedResponse.objects.create(
        title="Greeting", body="Hello {{ requester_name }}", tier=1
    )
    CannedResponse.objects.create(title="Tier3 only", body="Deep dive", tier=3)
    html = agent_page(client, agent3, ticket)  # a Tier 3 agent warms its own list
    assert "Tier3 only" in html and "Hello Pat Customer" in html
    html = agent_page(client, agent1, ticket)
    assert "Tier3 only" not in html and "Hello Pat Customer" in html
    first.body = "Good morning {{ requester_name }}"
    with django_capture_on_commit_callbacks(execute=True):
        first.save()
    html = agent_page(client, agent1, ticket)
    assert "Good morning Pat Customer" in html and "Hello Pat Customer" not in html
    with django_capture_on_commit_callbacks(execute=True):
        first.delete()
    assert "Good morning" not in agent_page(client, agent1, ticket)


def test_a_tier_3_agent_never_gets_the_tier_4_canned_list(client, make_ticket, agent3):
    """Tier 3 and Tier 4 agents read the same KB articles (both see up to Tier 4) but
    not the same canned responses (Tier 3 up to 3): the shared list is keyed by what
    decides it."""
    from tests.factories import make_agent
    from tickets.models import CannedResponse

    vendor = make_agent(4, username="vendor4")
    ticket = make_ticket()
    core.ticket_claim(ticket=ticket, agent=agent3)
    CannedResponse.objects.create(title="Vendor only", body="RMA steps", tier=4)
    assert "Vendor only" in agent_page(client, vendor, ticket)  # the Tier 4 list, stored
    assert "Vendor only" not in agent_page(client, agent3, ticket)


def test_shared_pieces_are_bumped_only_when_the_write_commits(django_capture_on_commit_callbacks):
    """A version bumped before the commit let a reader cache the old rows under the
    new version, where they stayed until the next write."""
    from tickets.models import CannedResponse

    before = caching.version(caching.CANNED)
    with django_capture_on_commit_callbacks(execute=True):
        CannedResponse.objects.create(title="Greeting", body="Hello", tier=1)
        assert caching.version(caching.CANNED) == before  # not committed yet
    assert caching.version(caching.CANNED) != before


# ---------------------------------------------------------------------------
# The tracking page's main block: shared per ticket state, CSRF token per reader
# ---------------------------------------------------------------------------


def test_tracking_block_is_shared_but_each_reader_gets_their_own_csrf_token(
    make_ticket, django_assert_max_num_queries
):
    import re

    from django.test import Client

    ticket = make_ticket()
    url = track_url(ticket)
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    # The block is keyed by the minute too: both reads in one (this failed whenever the
    # suite crossed a minute boundary between them).
    with time_machine.travel(timezone.now(), tick=False):
        html_first = first.get(url).content.decode()
        with django_assert_max_num_queries(1):  # the ticket with its newest event id: a hit
            html_second = second.get(url).content.decode()

    def token(html: str) -> str:
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)

    assert "fragment-csrf-" not in html_first + html_second
    assert token(html_first) != token(html_second)
    reply = {"body": "Still broken after the restart.", "csrfmiddlewaretoken": token(html_second)}
    assert second.post(url, reply).status_code == 302
    # The reply came with an event: the block's key moved, both readers see it.
    assert "Still broken after the restart." in first.get(url).content.decode()


def test_a_refused_reply_is_rendered_live_with_what_was_typed(make_ticket, client):
    ticket = make_ticket()
    client.get(track_url(ticket))  # the shared block is warm
    response = client.post(track_url(ticket), {"body": ""})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    assert "Still broken" not in client.get(track_url(ticket)).content.decode()

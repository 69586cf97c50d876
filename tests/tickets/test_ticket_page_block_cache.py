"""The agent ticket page's main block is cached per viewer (tickets/views/agent/ticket.py,
``ticket_detail``). These tests hold it to its contract: with the block warm, every
kind of write shows on the next view; no viewer gets another's block; the CSRF token
in the page is always the requester's own (the cached HTML holds a marker, never a
token); presence, messages and the bell stay live; a refused POST re-renders live
with the error and the typed text and leaves the cache alone; a cache outage
renders; and a cache hit costs a bounded number of queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import VendorFactory
from tests.outage import DEAD_CACHE
from tickets.models import CannedResponse, Notification, Ticket
from tickets.services import core
from tickets.services import portal as portal_svc
from tickets.services.agent import ticket_access_grant
from tickets.services.uploads import ticket_attachments_upload
from tickets.views.agent import ticket as views
from tiers.models import AgentProfile
from tiers.services import escalation_sweep, vendor_handoff, vendor_handoff_revoke

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HANDOFF = {"symptom": "dock dead", "steps_tried": "reboot", "findings": "fw"}
TOKEN_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]*)"')


def url(ticket: Ticket) -> str:
    return reverse("tickets:agent-ticket", kwargs={"reference": ticket.reference})


@pytest.fixture
def renders(monkeypatch):
    """How many times the main block was built (a cache miss) instead of served."""
    calls: list[int] = []
    real = views._ticket_context

    def spy(request, ticket, **extra):
        calls.append(ticket.pk)
        return real(request, ticket, **extra)

    monkeypatch.setattr(views, "_ticket_context", spy)
    return calls


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run a write's after-commit version bumps, as a real request's commit does."""

    def run(write, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return write(*args, **kwargs)

    return run


def page(client: Client, ticket: Ticket) -> str:
    response = client.get(url(ticket))
    assert response.status_code == 200
    return response.content.decode()


def warm(client: Client, ticket: Ticket, renders: list) -> str:
    """View twice; the second view must be served from the cache."""
    page(client, ticket)
    before = len(renders)
    html = page(client, ticket)
    assert len(renders) == before, "the second view was not a cache hit"
    return html


# ---------------------------------------------------------------------------
# Every kind of write shows on the next view, with the block warm
# ---------------------------------------------------------------------------


def test_agent_writes_show_on_the_next_view(client, make_ticket, agent1, agent2, renders, commit):
    ticket = make_ticket()
    client.force_login(agent1)
    warm(client, ticket, renders)

    commit(core.ticket_claim, ticket=ticket, agent=agent1)
    assert 'data-testid="assignee">agent1<' in page(client, ticket)
    warm(client, ticket, renders)

    commit(core.ticket_reply, ticket=ticket, agent=agent1, body="REPLY-**ONE**")
    assert "REPLY-<strong>ONE</strong>" in warm(client, ticket, renders)

    commit(core.ticket_add_note, ticket=ticket, agent=agent1, body="NOTE-ONE")
    assert "NOTE-ONE" in warm(client, ticket, renders)

    commit(core.ticket_change_priority, ticket=ticket, actor=agent1, priority="urgent")
    assert 'class="badge priority-urgent"' in warm(client, ticket, renders)

    commit(core.ticket_change_status, ticket=ticket, actor=agent1, status="pending_customer")
    assert 'class="badge status-pending_customer"' in warm(client, ticket, renders)

    commit(core.ticket_assign, ticket=ticket, actor=agent1, assignee=None)
    html = warm(client, ticket, renders)
    assert 'data-testid="assignee"' not in html and ">Claim</button>" in html

    ticket.refresh_from_db()
    commit(core.ticket_escalate, ticket=ticket, actor=agent1, **HANDOFF)
    client.force_login(agent2)
    warm(client, ticket, renders)
    # The Tier 1 agent no longer sees it at all: the cached block is not served.
    client.force_login(agent1)
    assert client.get(url(ticket)).status_code == 404


def test_a_write_without_the_after_commit_bumps_still_shows(client, make_ticket, agent1, renders):
    """The key moves with the data itself (``updated_at``, the newest event id), not
    only with counters: a write whose version bump was lost still shows."""
    ticket = make_ticket()
    client.force_login(agent1)
    warm(client, ticket, renders)
    core.ticket_reply(ticket=ticket, agent=agent1, body="NO-BUMP-REPLY")  # no commit hooks
    assert "NO-BUMP-REPLY" in page(client, ticket)
    Ticket.objects.filter(pk=ticket.pk).update(
        subject="NEW-SUBJECT", updated_at=timezone.now() + timedelta(seconds=1)
    )
    assert "NEW-SUBJECT" in page(client, ticket)


def test_a_sweep_promotion_shows_on_the_next_view(client, make_ticket, agent2, renders, commit):
    ticket = make_ticket()
    client.force_login(agent2)
    assert "Tier 1 clock" in warm(client, ticket, renders)
    overdue = timezone.now() - timedelta(minutes=1)
    Ticket.objects.filter(pk=ticket.pk).update(escalate_at=overdue)
    report = commit(escalation_sweep, now=timezone.now())
    assert report.promoted
    html = page(client, ticket)
    assert "Tier 2 clock" in html and 'class="tier-badge tier-2"' in html


def test_vendor_handoff_and_revocation_show_on_the_next_view(
    client, make_ticket, manager, agent3, category, renders, commit
):
    vendor = VendorFactory(company="ACME-FIRMWARE")
    vendor.categories.add(category)
    ticket = make_ticket()
    for _ in range(2):
        core.ticket_escalate(ticket=ticket, actor=manager, **HANDOFF)
    core.ticket_claim(ticket=ticket, agent=agent3)
    ticket.refresh_from_db()
    client.force_login(agent3)
    assert "Hand off to vendor" in warm(client, ticket, renders)

    handoff = commit(vendor_handoff, ticket=ticket, actor=agent3, summary="VENDOR-SUMMARY")
    html = warm(client, ticket, renders)
    assert "VENDOR-SUMMARY" in html and "ACME-FIRMWARE can open this ticket" in html

    commit(vendor_handoff_revoke, handoff=handoff, actor=agent3)
    html = page(client, ticket)
    assert "ACME-FIRMWARE can open this ticket" not in html and "revoked" in html


def test_attachment_and_rating_show_on_the_next_view(
    client, make_ticket, agent1, settings, tmp_path, renders, commit
):
    settings.MEDIA_ROOT = tmp_path
    ticket = make_ticket()
    core.ticket_claim(ticket=ticket, agent=agent1)
    client.force_login(agent1)
    warm(client, ticket, renders)
    upload = SimpleUploadedFile("SCREEN-SHOT.png", PNG, content_type="image/png")
    commit(ticket_attachments_upload, ticket=ticket, actor=agent1, uploads=[upload])
    assert warm(client, ticket, renders).count("SCREEN-SHOT.png") >= 2  # event + list

    commit(core.ticket_resolve, ticket=ticket, actor=agent1, resolution="Reset it")
    warm(client, ticket, renders)
    ticket.refresh_from_db()
    commit(portal_svc.csat_submit, ticket=ticket, rating=2, comment="RATING-COMMENT")
    assert "RATING-COMMENT" in page(client, ticket)


def test_an_access_grant_shows_on_the_next_view(
    client, make_ticket, agent1, manager, renders, commit
):
    ticket = make_ticket()
    core.ticket_escalate(ticket=ticket, actor=manager, **HANDOFF)
    client.force_login(manager)
    warm(client, ticket, renders)
    client.force_login(agent1)
    assert client.get(url(ticket)).status_code == 404  # Tier 2: out of agent1's sight
    commit(ticket_access_grant, ticket=ticket, manager=manager, user=agent1, reason="GRANT-WHY")
    html = page(client, ticket)
    assert 'action="' + reverse("tickets:agent-resolve", args=[ticket.reference]) in html
    client.force_login(manager)
    assert "GRANT-WHY" in page(client, ticket)


def test_the_requesters_other_tickets_follow_the_tickets_version(
    client, make_ticket, agent1, renders, commit
):
    ticket = commit(make_ticket)  # committed, as in a real request
    client.force_login(agent1)
    warm(client, ticket, renders)
    commit(make_ticket, subject="ANOTHER-ONE")
    assert "ANOTHER-ONE" in page(client, ticket)


def test_canned_responses_and_agent_names_inside_the_block_follow_their_versions(
    client, make_ticket, agent1, agent2, renders, commit
):
    ticket = make_ticket()
    client.force_login(agent1)
    warm(client, ticket, renders)
    commit(CannedResponse.objects.create, title="CANNED-NEW", body="Hello", tier=1)
    assert "CANNED-NEW" in warm(client, ticket, renders)
    agent2.username = "RENAMED-AGENT"
    commit(agent2.save)
    assert "RENAMED-AGENT (Tier 2)" in page(client, ticket)


def test_the_clock_text_is_at_most_a_minute_old(client, make_ticket, agent1, renders, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    ticket = make_ticket()
    client.force_login(agent1)
    warm(client, ticket, renders)
    time_machine.shift(timedelta(seconds=61))
    before = len(renders)
    page(client, ticket)
    assert len(renders) == before + 1


# ---------------------------------------------------------------------------
# Per viewer, per request
# ---------------------------------------------------------------------------


def test_no_viewer_gets_another_viewers_block(
    client, make_ticket, agent1, agent2, manager, renders
):
    ticket = make_ticket()
    core.ticket_escalate(ticket=ticket, actor=agent1, **HANDOFF)  # Tier 2
    client.force_login(manager)
    assert "Grant an agent access" in warm(client, ticket, renders)
    client.force_login(agent2)
    before = len(renders)
    html = page(client, ticket)
    assert len(renders) == before + 1  # built for agent2, not served from the manager's
    assert "Grant an agent access" not in html
    assert "Grant an agent access" not in warm(client, ticket, renders)


def test_the_csrf_token_is_the_requesters_own_and_posts_with_it_succeed(
    make_ticket, agent1, renders
):
    ticket = make_ticket()
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    for c in (first, second):
        c.force_login(agent1)
    page(first, ticket)  # builds and stores the block
    _version, fragment = cache.get(views._page_key(agent1.pk, ticket.reference, 0))
    # What is stored holds markers only, never a token.
    assert 'name="csrfmiddlewaretoken" value="fragment-csrf-' in fragment["html"]
    assert not [t for t in TOKEN_RE.findall(fragment["html"]) if not t.startswith("fragment-")]
    before = len(renders)
    html = page(second, ticket)
    assert len(renders) == before  # the same user's block, served from the cache
    tokens = set(TOKEN_RE.findall(html))
    assert tokens and not any(t.startswith("fragment-") for t in tokens)
    assert "fragment-" not in html
    response = second.post(
        reverse("tickets:agent-claim", args=[ticket.reference]),
        {"csrfmiddlewaretoken": tokens.pop()},
    )
    assert response.status_code == 302
    # Without a valid token the same POST is refused: the check is real.
    response = first.post(reverse("tickets:agent-unclaim", args=[ticket.reference]))
    assert response.status_code == 403


def test_presence_messages_and_the_bell_stay_live_on_a_hit(
    client, make_ticket, agent1, agent2, renders, commit
):
    ticket = make_ticket()
    client.force_login(agent1)
    warm(client, ticket, renders)
    other = Client()
    other.force_login(agent2)
    page(other, ticket)
    before = len(renders)
    html = page(client, ticket)
    assert len(renders) == before
    assert 'data-testid="viewers">Also viewing this ticket: agent2.' in html
    commit(Notification.objects.create, user=agent1, text="ping")
    assert 'data-testid="bell-count">1<' in page(client, ticket)
    response = client.post(reverse("tickets:agent-claim", args=[ticket.reference]), follow=True)
    assert "You claimed the ticket." in response.content.decode()


def test_a_refused_post_renders_live_with_the_error_and_the_typed_text(
    client, make_ticket, agent1, renders
):
    ticket = make_ticket()
    core.ticket_claim(ticket=ticket, agent=agent1)
    client.force_login(agent1)
    warm(client, ticket, renders)
    response = client.post(
        reverse("tickets:agent-resolve", args=[ticket.reference]),
        {"resolution": "TYPED-RESOLUTION <b>x</b>", "article": "no-such-article"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="error">Unknown article.<' in html
    assert "TYPED-RESOLUTION &lt;b&gt;x&lt;/b&gt;" in html
    assert "fragment-" not in html and TOKEN_RE.search(html)
    # The refused render was not stored: the next view is the plain cached page.
    html = warm(client, ticket, renders)
    assert "Unknown article." not in html and "TYPED-RESOLUTION" not in html


def test_the_page_renders_with_the_cache_down(client, make_ticket, agent1, settings, renders):
    ticket = make_ticket()
    core.ticket_reply(ticket=ticket, agent=agent1, body="Try **this**")
    client.force_login(agent1)
    settings.CACHES = DEAD_CACHE
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    for _ in range(2):
        html = page(client, ticket)
        assert "Try <strong>this</strong>" in html and TOKEN_RE.search(html)
        assert "fragment-" not in html
    assert len(renders) == 2  # computed every time, nothing stored


def test_query_bounds_cold_and_warm(client, make_ticket, agent1, renders):
    ticket = make_ticket()
    for n in range(30):
        core.ticket_add_note(ticket=ticket, agent=agent1, body=f"note {n}")
    client.force_login(agent1)
    from django.db import connection

    with CaptureQueriesContext(connection) as cold:
        page(client, ticket)
    warm(client, ticket, renders)
    with CaptureQueriesContext(connection) as hot:
        html = page(client, ticket)
    assert "note 29" in html
    assert len(cold.captured_queries) <= 12
    # A hit: the user (session auth) and the ticket with its newest event id.
    assert len(hot.captured_queries) <= 2, [q["sql"][:80] for q in hot.captured_queries]


def test_the_access_check_on_a_hit_follows_the_viewers_tier(
    client, make_ticket, agent1, renders, commit
):
    """A hit checks access with SQL compiled per visibility inputs (user, manager,
    tier): a tier change takes effect on the next view, both ways."""
    seen, above = make_ticket(), make_ticket(subject="ABOVE")
    core.ticket_escalate(ticket=above, actor=agent1, **HANDOFF)  # Tier 2
    client.force_login(agent1)
    warm(client, seen, renders)
    assert client.get(url(above)).status_code == 404
    profile = AgentProfile.objects.get(user=agent1)
    profile.tier = 2
    commit(profile.save)
    assert "ABOVE" in page(client, above)
    page(client, above)  # now a hit: served after the same check
    profile.is_active = False
    commit(profile.save)
    assert client.get(url(seen)).status_code == 403  # no longer staff

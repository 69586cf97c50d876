"""Every agent action through the pages: exactly one event, the right people told,
refusals shown on the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from knowledgebase.models import Article
from tests.factories import ArticleFactory, make_agent
from tickets.models import CannedResponse, Notification, Ticket, TicketEvent
from tickets.services import agent as svc
from tickets.services import core

pytestmark = pytest.mark.django_db
Kind = TicketEvent.Kind


@pytest.fixture(autouse=True)
def _private_cache(settings):
    """Presence lives in the cache: a per-test local cache, not the shared Redis."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "agent-tests",
        }
    }
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def act(client, django_capture_on_commit_callbacks):
    """POST an agent action; run on-commit callbacks (notifications) like a real request."""

    def _act(user, name: str, ticket: Ticket, data: dict | None = None, follow: bool = False):
        client.force_login(user)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                reverse(f"tickets:{name}", kwargs={"reference": ticket.reference}),
                data or {},
                follow=follow,
            )

    return _act


def new_events(ticket: Ticket, since: int) -> list[TicketEvent]:
    return list(ticket.events.filter(pk__gt=since).order_by("id"))


def last_id(ticket: Ticket) -> int:
    return ticket.events.order_by("-id").values_list("id", flat=True).first() or 0


def notified(user) -> list[str]:
    return list(Notification.objects.filter(user=user).values_list("text", flat=True))


HANDOFF = {
    "symptom": "VPN drops every hour",
    "steps_tried": "Reinstalled client",
    "findings": "Server resets",
}


@pytest.fixture
def ticket(make_ticket):
    return make_ticket()


def test_claim_one_event_and_page_shows_assignee(act, ticket, agent1):
    since = last_id(ticket)
    response = act(agent1, "agent-claim", ticket, follow=True)
    assert [e.kind for e in new_events(ticket, since)] == [Kind.ASSIGNED]
    assert b"You claimed the ticket." in response.content
    ticket.refresh_from_db()
    assert ticket.assignee == agent1 and ticket.status == "open"


def test_claim_conflict_names_the_winner(act, ticket, agent1):
    other = make_agent(1, username="speedy")
    core.ticket_claim(ticket=ticket, agent=other)
    response = act(agent1, "agent-claim", ticket)
    assert response.status_code == 409
    assert b"already claimed by speedy" in response.content


def test_unclaim_and_reassign_notifies_new_assignee(act, ticket, agent1, agent2):
    core.ticket_claim(ticket=ticket, agent=agent1)
    since = last_id(ticket)
    act(agent1, "agent-assign", ticket, {"assignee": agent2.pk})
    assert [e.kind for e in new_events(ticket, since)] == [Kind.ASSIGNED]
    assert notified(agent2) and not notified(agent1)
    ticket.refresh_from_db()
    assert ticket.assignee == agent2
    # agent1 is no longer the assignee: cannot unassign agent2.
    assert act(agent1, "agent-unclaim", ticket).status_code == 403
    since = last_id(ticket)
    act(agent2, "agent-unclaim", ticket)
    ticket.refresh_from_db()
    assert ticket.assignee is None
    assert [e.kind for e in new_events(ticket, since)] == [Kind.ASSIGNED]


def test_reassign_to_a_lower_tier_is_refused(act, make_ticket, agent1, agent2):
    ticket = make_ticket()
    core.ticket_escalate(ticket=ticket, actor=agent1, **HANDOFF)
    response = act(agent2, "agent-assign", ticket, {"assignee": agent1.pk})
    assert response.status_code == 400
    assert b"cannot take a Tier 2 ticket" in response.content


def test_public_reply_emails_the_customer(act, ticket, agent1):
    since = last_id(ticket)
    mail.outbox.clear()
    act(agent1, "agent-reply", ticket, {"body": "Try resetting it", "last_event_id": since})
    assert [e.kind for e in new_events(ticket, since)] == [Kind.REPLY]
    assert [m.to for m in mail.outbox] == [["pat@example.com"]]


def test_reply_waiting_for_customer_pauses_the_clock(act, ticket, agent1):
    since = last_id(ticket)
    act(
        agent1,
        "agent-reply",
        ticket,
        {"body": "Which model?", "pending_customer": "1", "last_event_id": since},
    )
    ticket.refresh_from_db()
    assert ticket.status == "pending_customer" and ticket.escalate_at is None
    # The reply, and the status change the customer is told about.
    assert [e.kind for e in new_events(ticket, since)] == [Kind.REPLY, Kind.STATUS]


def test_internal_note_is_not_emailed(act, ticket, agent1):
    since = last_id(ticket)
    mail.outbox.clear()
    response = act(
        agent1,
        "agent-reply",
        ticket,
        {"body": "Caller sounded upset", "internal": "1"},
        follow=True,
    )
    events = new_events(ticket, since)
    assert [(e.kind, e.is_public) for e in events] == [(Kind.NOTE, False)]
    assert mail.outbox == []
    assert b"Internal" in response.content


def test_empty_reply_is_refused_with_a_message(act, ticket, agent1):
    response = act(agent1, "agent-reply", ticket, {"body": "  ", "last_event_id": last_id(ticket)})
    assert response.status_code == 400
    assert b"Write a reply first." in response.content


def test_collision_new_post_holds_the_reply_until_confirmed(act, ticket, agent1):
    seen = last_id(ticket)
    core.ticket_customer_reply(ticket=ticket, body="Never mind, it works now!")
    response = act(agent1, "agent-reply", ticket, {"body": "Try X", "last_event_id": seen})
    assert response.status_code == 409
    content = response.content.decode()
    assert "Your reply was not sent yet." in content
    assert "Never mind, it works now!" in content
    assert "Try X" in content  # the draft is kept
    assert not ticket.events.filter(kind=Kind.REPLY).exists()
    response = act(
        agent1, "agent-reply", ticket, {"body": "Try X", "last_event_id": seen, "confirm": "1"}
    )
    assert response.status_code == 302
    assert ticket.events.filter(kind=Kind.REPLY).count() == 1


def test_collision_other_agent_viewing(client, act, ticket, agent1):
    other = make_agent(1, username="watcher")
    client.force_login(other)
    client.get(reverse("tickets:agent-ticket", kwargs={"reference": ticket.reference}))
    response = act(
        agent1, "agent-reply", ticket, {"body": "Hello", "last_event_id": last_id(ticket)}
    )
    assert response.status_code == 409
    assert b"Also viewing this ticket: watcher" in response.content
    # The htmx poll of agent1's page keeps saying so.
    presence = client.get(reverse("tickets:agent-presence", kwargs={"reference": ticket.reference}))
    assert b"Also viewing this ticket: watcher" in presence.content


def test_change_status_and_priority(act, ticket, agent1):
    core.ticket_claim(ticket=ticket, agent=agent1)
    since = last_id(ticket)
    mail.outbox.clear()
    act(agent1, "agent-status", ticket, {"status": "pending_customer"})
    assert [e.kind for e in new_events(ticket, since)] == [Kind.STATUS]
    assert len(mail.outbox) == 1  # the customer hears the ticket waits for them
    since = last_id(ticket)
    act(agent1, "agent-priority", ticket, {"priority": "high"})
    assert [e.kind for e in new_events(ticket, since)] == [Kind.PRIORITY]
    response = act(agent1, "agent-priority", ticket, {"priority": "__bogus__"})
    assert response.status_code == 400 and b"Unknown priority." in response.content


def test_escalate_writes_the_handoff_and_notifies_tier_2(act, ticket, agent1, agent2, agent3):
    art = ArticleFactory(slug="vpn-basics", title="VPN basics")
    since = last_id(ticket)
    response = act(
        agent1,
        "agent-escalate",
        ticket,
        {**HANDOFF, "articles": [art.slug, "made-up"], "tier": "1"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("tickets:agent-queue")
    events = new_events(ticket, since)
    assert [e.kind for e in events] == [Kind.ESCALATED]
    assert events[0].data["handoff"]["articles"] == ["vpn-basics"]
    assert notified(agent2) and not notified(agent3) and not notified(agent1)
    ticket.refresh_from_db()
    assert ticket.tier == 2 and ticket.assignee is None


def test_escalate_without_a_summary_is_refused_on_the_page(act, ticket, agent1):
    since = last_id(ticket)
    response = act(
        agent1,
        "agent-escalate",
        ticket,
        {"symptom": "It broke", "steps_tried": "", "findings": "", "tier": "1"},
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert "A hand-off needs the symptom, the steps tried and the findings." in content
    assert "It broke" in content  # what the agent typed is kept
    assert new_events(ticket, since) == []
    ticket.refresh_from_db()
    assert ticket.tier == 1


def test_escalate_with_a_stale_tier_is_a_conflict(act, ticket, agent1, agent2):
    core.ticket_escalate(ticket=ticket, actor=agent1, **HANDOFF)
    response = act(agent2, "agent-escalate", ticket, {**HANDOFF, "tier": "1"})
    assert response.status_code == 409
    assert b"already at Tier 2" in response.content


def test_tier_2_page_pins_the_handoff(client, ticket, agent1, agent2):
    core.ticket_add_note(ticket=ticket, agent=agent1, body="later noise")
    core.ticket_escalate(ticket=ticket, actor=agent1, **HANDOFF)
    core.ticket_add_note(ticket=ticket, agent=agent2, body="looking")
    client.force_login(agent2)
    content = client.get(
        reverse("tickets:agent-ticket", kwargs={"reference": ticket.reference})
    ).content.decode()
    pinned = content.split('data-testid="pinned-handoff"', 1)[1].split("</section>", 1)[0]
    assert "Hand-off from Tier 1 by agent1" in pinned
    assert "VPN drops every hour" in pinned and "Server resets" in pinned
    assert content.index('data-testid="pinned-handoff"') < content.index("<h2>Timeline</h2>")


def test_bounce_returns_to_the_escalating_agent(act, ticket, agent1, agent2):
    core.ticket_escalate(ticket=ticket, actor=agent1, **HANDOFF)
    escalation = ticket.events.get(kind=Kind.ESCALATED)
    since = last_id(ticket)
    act(agent2, "agent-bounce", ticket, {"reason": "No error message captured"})
    events = new_events(ticket, since)
    assert [e.kind for e in events] == [Kind.BOUNCED]
    assert events[0].data == {
        "from_tier": 2,
        "to_tier": 1,
        "reason": "No error message captured",
        "escalation_event_id": escalation.pk,
    }
    ticket.refresh_from_db()
    assert ticket.tier == 1 and ticket.assignee == agent1
    assert notified(agent1)  # the Tier 1 agents are told
    again = act(agent2, "agent-bounce", ticket, {"reason": "x"})
    assert again.status_code == 400
    assert b"Only a ticket escalated by hand into this tier can be bounced." in again.content


def test_bounce_needs_a_reason(act, ticket, agent1, agent2):
    core.ticket_escalate(ticket=ticket, actor=agent1, **HANDOFF)
    response = act(agent2, "agent-bounce", ticket, {"reason": ""})
    assert response.status_code == 400 and b"Say what the hand-off is missing." in response.content


def test_mark_avoidable_with_article(act, ticket, agent1, agent2):
    art = ArticleFactory(slug="reset-password", title="Reset your password")
    core.ticket_escalate(ticket=ticket, actor=agent1, **HANDOFF)
    escalation = ticket.events.get(kind=Kind.ESCALATED)
    since = last_id(ticket)
    act(agent2, "agent-avoidable", ticket, {"tier": "1", "article": art.slug})
    events = new_events(ticket, since)
    assert [e.kind for e in events] == [Kind.AVOIDABLE]
    assert events[0].data == {
        "tier": 1,
        "article": "reset-password",
        "missing_article": False,
        "escalated_by": agent1.pk,
        "category_id": ticket.category_id,
        "escalation_event_id": escalation.pk,
    }
    assert notified(agent1)  # coaching: the escalating agent hears it
    again = act(agent2, "agent-avoidable", ticket, {"tier": "1", "missing_article": "1"})
    assert again.status_code == 409 and b"already marked avoidable" in again.content


def test_mark_avoidable_missing_article_and_validation(act, ticket, agent1, agent2):
    core.ticket_escalate(ticket=ticket, actor=agent1, **HANDOFF)
    response = act(agent2, "agent-avoidable", ticket, {"tier": "1"})
    assert response.status_code == 400
    assert "Name the article that would have solved it" in response.content.decode()
    assert (
        act(agent2, "agent-avoidable", ticket, {"tier": "2", "missing_article": "1"}).status_code
        == 400
    )
    since = last_id(ticket)
    act(agent2, "agent-avoidable", ticket, {"tier": "1", "missing_article": "1"})
    (event,) = new_events(ticket, since)
    assert event.data["missing_article"] is True and event.data["article"] is None


def test_avoidable_without_a_handoff_is_refused(act, ticket, agent1):
    response = act(agent1, "agent-avoidable", ticket, {"tier": "1", "missing_article": "1"})
    assert response.status_code == 400


def test_deescalate_needs_a_reason_and_notifies_tier_1(act, ticket, agent1, agent2):
    core.ticket_escalate(ticket=ticket, actor=agent1, **HANDOFF)
    assert act(agent2, "agent-deescalate", ticket, {"reason": ""}).status_code == 400
    since = last_id(ticket)
    Notification.objects.all().delete()
    act(agent2, "agent-deescalate", ticket, {"reason": "Simple password reset"})
    assert [e.kind for e in new_events(ticket, since)] == [Kind.DEESCALATED]
    assert notified(agent1) and not notified(agent2)


def test_resolve_with_article_and_first_contact_shown(act, client, ticket, agent1):
    art = ArticleFactory(slug="reset-password", title="Reset your password")
    assert act(agent1, "agent-resolve", ticket, {"resolution": ""}).status_code == 400
    since = last_id(ticket)
    mail.outbox.clear()
    response = act(
        agent1,
        "agent-resolve",
        ticket,
        {"resolution": "Reset it", "article": art.slug},
        follow=True,
    )
    assert [e.kind for e in new_events(ticket, since)] == [Kind.RESOLVED]
    assert len(mail.outbox) == 1
    ticket.refresh_from_db()
    assert ticket.resolved_article == art and ticket.first_contact_resolution
    assert b'data-testid="fcr"' in response.content


def test_resolve_rejects_an_unknown_article(act, ticket, agent1):
    response = act(agent1, "agent-resolve", ticket, {"resolution": "done", "article": "nope"})
    assert response.status_code == 400 and b"Unknown article." in response.content


def test_draft_checkbox_follows_the_kb_service(client, ticket, agent1, monkeypatch):
    client.force_login(agent1)
    url = reverse("tickets:agent-ticket", kwargs={"reference": ticket.reference})
    monkeypatch.setattr(svc, "draft_article_service", lambda: None)
    assert b'name="create_draft"' not in client.get(url).content
    calls = []
    monkeypatch.setattr(svc, "draft_article_service", lambda: lambda **kw: calls.append(kw))
    assert b'name="create_draft"' in client.get(url).content
    client.post(
        reverse("tickets:agent-resolve", kwargs={"reference": ticket.reference}),
        {"resolution": "Reset it", "create_draft": "1"},
    )
    assert calls and calls[0]["body"] == "Reset it" and calls[0]["source_ticket"].pk == ticket.pk


def test_merge_closes_the_duplicate(act, make_ticket, agent1):
    target = make_ticket(subject="Email down")
    source = make_ticket(subject="Email down again")
    core.ticket_claim(ticket=target, agent=make_agent(1, username="owner1"))
    s_since, t_since = last_id(source), last_id(target)
    act(agent1, "agent-merge", source, {"target": target.reference.lower()})
    source.refresh_from_db()
    assert source.status == "closed" and source.merged_into == target and source.escalate_at is None
    (merged,) = new_events(source, s_since)
    assert merged.kind == Kind.MERGED and merged.data["into"] == target.reference
    (note,) = new_events(target, t_since)
    assert note.kind == Kind.NOTE and source.reference in note.body
    assert Notification.objects.filter(user__username="owner1", ticket=target).exists()
    assert act(agent1, "agent-merge", target, {"target": target.reference}).status_code == 400
    assert act(agent1, "agent-merge", target, {"target": "TD-999999"}).status_code == 400


def test_canned_response_placeholders_are_replaced_not_rendered(client, make_ticket, agent1):
    ticket = make_ticket(requester_name="{% debug %}Eve {{ reference }}")
    canned = CannedResponse.objects.create(
        title="Hello",
        body="Hi {{ requester_name }}, {{reference}} is with {{ agent_name }}: {{ tracking_url }} {% now 'Y' %} {{ secret }}",
        tier=1,
    )
    CannedResponse.objects.create(title="Tier 2 only", body="x", tier=2)
    text = svc.canned_response_render(canned=canned, ticket=ticket, agent=agent1)
    assert text.startswith("Hi {% debug %}Eve {{ reference }}, " + ticket.reference + " is with ")
    assert ticket.tracking_token in text
    assert "{% now 'Y' %} {{ secret }}" in text
    client.force_login(agent1)
    url = reverse("tickets:agent-ticket", kwargs={"reference": ticket.reference})
    content = client.get(url, {"canned": canned.pk}).content.decode()
    assert "Tier 2 only" not in content
    assert "Hi {% debug %}Eve" in content


def test_bulk_claim_priority_and_spam(
    client, make_ticket, agent1, django_capture_on_commit_callbacks
):
    a, b, c = make_ticket(), make_ticket(), make_ticket()
    core.ticket_claim(ticket=c, agent=make_agent(1, username="fast"))
    client.force_login(agent1)
    bulk = reverse("tickets:agent-bulk")
    response = client.post(
        bulk,
        {
            "action": "claim",
            "tickets": [a.reference, b.reference, c.reference],
            "qs": "view=all&priority=normal",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0].startswith("/agent/?")
    assert "priority=normal" in response.redirect_chain[-1][0]
    content = response.content.decode()
    assert f"Claim: {a.reference}, {b.reference}." in content
    assert "already claimed by fast" in content
    assert Ticket.objects.filter(assignee=agent1).count() == 2
    client.post(bulk, {"action": "priority", "priority": "high", "tickets": [a.reference]})
    assert a.events.filter(kind=Kind.PRIORITY).count() == 1
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(bulk, {"action": "spam", "tickets": [b.reference]})
    b.refresh_from_db()
    assert b.status == "closed" and b.escalate_at is None
    assert b.events.filter(kind=Kind.CLOSED, data__spam=True).count() == 1
    assert mail.outbox == []  # never answer a spammer
    response = client.post(bulk, {"action": "explode", "tickets": [a.reference]}, follow=True)
    assert b"Choose an action." in response.content


def test_bulk_ignores_tickets_out_of_sight(client, make_ticket, agent1, agent2):
    t = make_ticket()
    core.ticket_escalate(ticket=t, actor=agent1, **HANDOFF)
    client.force_login(agent1)
    response = client.post(
        reverse("tickets:agent-bulk"), {"action": "claim", "tickets": [t.reference]}, follow=True
    )
    assert b"Select at least one ticket." in response.content
    t.refresh_from_db()
    assert t.assignee is None


def test_manager_grant_lets_tier_1_act_on_tier_3(act, client, make_ticket, agent1, agent2, manager):
    t = make_ticket()
    core.ticket_escalate(ticket=t, actor=agent1, **HANDOFF)
    core.ticket_escalate(ticket=t, actor=agent2, **HANDOFF)
    url = reverse("tickets:agent-ticket", kwargs={"reference": t.reference})
    client.force_login(agent1)
    assert client.get(url).status_code == 404
    assert act(agent1, "agent-grant", t, {"user": agent1.pk}).status_code == 403
    assert act(agent2, "agent-grant", t, {"user": agent1.pk}).status_code == 403
    since = last_id(t)
    act(manager, "agent-grant", t, {"user": agent1.pk, "reason": "Outage all hands"})
    assert [e.kind for e in new_events(t, since)] == [Kind.NOTE]
    assert notified(agent1)
    client.force_login(agent1)
    assert client.get(url).status_code == 200
    assert act(agent1, "agent-claim", t).status_code == 302
    t.refresh_from_db()
    assert t.assignee == agent1


def test_notifications_bell_and_mark_read(
    client, act, ticket, agent1, agent2, django_capture_on_commit_callbacks
):
    core.ticket_escalate(ticket=ticket, actor=agent1, **HANDOFF)
    act(agent1, "agent-reply", ticket, {"body": "x", "internal": "1"})  # no-op for agent2
    from tickets.services.notify import ticket_event_send

    for event in ticket.events.filter(notify=True, notified_at__isnull=True):
        ticket_event_send(event_id=event.pk)
    client.force_login(agent2)
    page = client.get(reverse("tickets:agent-queue")).content.decode()
    assert 'data-testid="bell-count">1<' in page
    inbox = client.get(reverse("tickets:agent-notifications"))
    assert ticket.reference in inbox.content.decode()
    (n,) = Notification.objects.filter(user=agent2)
    # The bell count is cached until the read commits (helpdesk/cache.py).
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("tickets:agent-notifications-read"), {"ids": [n.pk]})
    n.refresh_from_db()
    assert n.read_at is not None
    assert (
        'data-testid="bell-count">0<' in client.get(reverse("tickets:agent-queue")).content.decode()
    )
    # Someone else's notification cannot be marked.
    other = Notification.objects.create(user=agent1, text="mine")
    client.post(reverse("tickets:agent-notifications-read"), {"ids": [other.pk]})
    other.refresh_from_db()
    assert other.read_at is None
    assert (
        client.post(reverse("tickets:agent-notifications-read"), {"ids": ["x"]}).status_code == 400
    )


def test_tier3_ticket_page_offers_the_vendor_handoff(client, make_ticket, agent1, agent2, agent3):
    t = make_ticket()
    core.ticket_escalate(ticket=t, actor=agent1, **HANDOFF)
    core.ticket_escalate(ticket=t, actor=agent2, **HANDOFF)
    client.force_login(agent3)
    content = client.get(
        reverse("tickets:agent-ticket", kwargs={"reference": t.reference})
    ).content.decode()
    url = reverse("tiers:handoff-create", kwargs={"reference": t.reference})
    assert f'action="{url}"' in content and 'name="summary"' in content


def test_ticket_page_shows_everything_within_12_queries(
    client, make_ticket, agent1, agent2, django_assert_max_num_queries
):
    t = make_ticket()
    for n in range(5):
        make_ticket(subject=f"Earlier {n}")
    ArticleFactory(
        title="Cannot log in after password change",
        slug="login-help",
        audience=Article.Audience.INTERNAL,
        min_tier=1,
    )
    for n in range(60):
        core.ticket_add_note(ticket=t, agent=agent1, body=f"note {n}")
    core.ticket_reply(ticket=t, agent=agent1, body="public answer")
    core.ticket_customer_reply(ticket=t, body="thanks")
    core.ticket_escalate(ticket=t, actor=agent1, **HANDOFF)
    CannedResponse.objects.create(title="Hi", body="Hi {{ requester_name }}", tier=1)
    client.force_login(agent2)
    url = reverse("tickets:agent-ticket", kwargs={"reference": t.reference})
    client.get(url)
    with django_assert_max_num_queries(12):
        response = client.get(url)
    content = response.content.decode()
    assert "note 59" in content and "public answer" in content and "thanks" in content
    assert "Cannot log in after password change" in content  # internal script suggested
    assert content.count("Earlier ") >= 5  # requester's other tickets
    assert "Internal" in content


def test_timer_promotion_explains_itself_on_the_page(client, ticket, agent2):
    core.ticket_event_create(
        ticket=ticket,
        kind=Kind.PROMOTED,
        actor_name="system",
        body="Tier 1 budget exceeded",
        data={
            "budget": "8:00:00",
            "calendar": "24x7",
            "spent": "8:00:05",
            "paused": "0:00:00",
            "deadline": "2026-01-01T10:00:00+00:00",
        },
    )
    client.force_login(agent2)
    content = client.get(
        reverse("tickets:agent-ticket", kwargs={"reference": ticket.reference})
    ).content.decode()
    explain = content.split('class="explain small"', 1)[1].split("</dl>", 1)[0]
    for key in ("budget", "calendar", "spent", "paused", "deadline"):
        assert f"<dt>{key}</dt>" in explain
    assert "8:00:05" in explain


def test_handoff_with_free_text_articles_renders(client, ticket, agent1, agent2):
    """Hand-offs recorded before #26 may name consulted articles by free text (the API
    stored them unchecked): the page renders them escaped, no link reversal can fail."""
    core.ticket_escalate(ticket=ticket, actor=agent1, **HANDOFF)
    event = ticket.events.get(kind=TicketEvent.Kind.ESCALATED)
    event.data["handoff"]["articles"] = ["Reset / 2FA <guide>"]
    TicketEvent.objects.filter(pk=event.pk).update(data=event.data)
    client.force_login(agent2)
    response = client.get(reverse("tickets:agent-ticket", kwargs={"reference": ticket.reference}))
    assert response.status_code == 200
    assert "Reset / 2FA &lt;guide&gt;" in response.content.decode()


def test_resolved_ticket_page_within_12_queries(
    client, ticket, agent1, manager, django_assert_max_num_queries
):
    art = ArticleFactory(slug="reset-password", title="Reset your password")
    for n in range(30):
        core.ticket_add_note(ticket=ticket, agent=agent1, body=f"note {n}")
    core.ticket_resolve(ticket=ticket, actor=agent1, resolution="Reset it", article=art)
    client.force_login(manager)
    url = reverse("tickets:agent-ticket", kwargs={"reference": ticket.reference})
    client.get(url)
    with django_assert_max_num_queries(12):
        content = client.get(url).content.decode()
    assert "Reset your password" in content and 'data-testid="fcr"' in content
    assert 'name="resolution"' not in content  # no action forms on a resolved ticket


def test_notifications_page_offers_mark_all_while_older_unread_remain(client, agent2):
    """Unread notifications beyond the 100 shown still count: "Mark all as read" stays."""
    old = Notification.objects.create(user=agent2, text="old and unread")
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))
    Notification.objects.bulk_create(
        [Notification(user=agent2, text=f"read {i}", read_at=timezone.now()) for i in range(100)]
    )
    client.force_login(agent2)
    page = client.get(reverse("tickets:agent-notifications")).content.decode()
    assert "Mark all as read" in page


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("agent-reply", {"body": "x" * 20001}),
        ("agent-reply", {"body": "x" * 20001, "internal": "1"}),
        ("agent-escalate", {"symptom": "s" * 4001, "steps_tried": "t", "findings": "f"}),
    ],
)
def test_text_over_the_limit_is_refused_not_cut_short(act, ticket, agent1, name, data):
    since = last_id(ticket)
    response = act(agent1, name, ticket, {**data, "confirm": "1"})
    assert response.status_code == 400
    assert b"characters long; the most is" in response.content
    assert new_events(ticket, since) == []
    typed = next(iter(v for k, v in data.items() if len(v) > 4000))
    assert typed.encode() in response.content  # what was typed is still on the page

"""The agent queue's split scans and its caches: the default view's two keyset scans
merged across pages; after a write the next view shows it (claim, reply, escalate,
sweep promotion, bell); another user never gets your rows; Redis down still renders;
query bounds, cold and warm."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from helpdesk import cache as caching
from tests.factories import CategoryFactory, TicketFactory, make_agent
from tests.outage import DEAD_CACHE
from tickets import queue as q
from tickets.models import Notification, Ticket
from tickets.services import core

pytestmark = pytest.mark.django_db
QUEUE = reverse("tickets:agent-queue")
HANDOFF = {"symptom": "s", "steps_tried": "st", "findings": "f"}


def refs(response) -> list[str]:
    return re.findall(r'<tr data-reference="([^"]+)"', response.content.decode())


def row(response, reference: str) -> str:
    body = response.content.decode()
    match = re.search(rf'<tr data-reference="{reference}">.*?</tr>', body, re.S)
    return match.group(0) if match else ""


@pytest.fixture
def frozen():
    """One fixed instant: every view of a test falls in the same 5 s cache slice, so
    a fresh result after a write can only come from the version bump."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def _order_key(t: Ticket):
    return (t.escalate_at is None, t.escalate_at or timezone.now(), t.pk)


# ---------------------------------------------------------------------------
# The default view as two scans
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["time_left", "newest", "oldest"])
def test_unassigned_and_mine_merged_across_pages_each_once_in_order(client, agent1, sort):
    other = make_agent(1, username="other1")
    category = CategoryFactory()
    now = timezone.now()
    shown = []
    for i in range(70):
        # Interleaved deadlines, shared ones (tie broken by id), paused ones (NULL, last).
        deadline = None if i % 9 == 0 else now + timedelta(minutes=(i * 13) % 50)
        assignee = agent1 if i % 3 == 0 else None
        shown.append(
            TicketFactory(category=category, tier=1, escalate_at=deadline, assignee=assignee)
        )
    hidden = [
        TicketFactory(category=category, tier=1, escalate_at=now, assignee=other),
        TicketFactory(category=category, tier=2, escalate_at=now),
        TicketFactory(category=category, tier=1, escalate_at=now, status=Ticket.Status.RESOLVED),
    ]
    client.force_login(agent1)
    seen: list[str] = []
    params: dict[str, str] = {"sort": sort}
    while True:
        response = client.get(QUEUE, params)
        assert response.status_code == 200
        page = refs(response)
        assert len(page) <= q.PAGE_SIZE
        seen += page
        cursor = response.context["next_cursor"]
        if not cursor:
            break
        params = {"sort": sort, "cursor": cursor}
    assert len(seen) == len(set(seen)) == len(shown)
    assert not {t.reference for t in hidden} & set(seen)
    if sort == "time_left":
        expected = sorted(shown, key=_order_key)
    else:
        expected = sorted(shown, key=lambda t: (t.created_at, t.pk), reverse=sort == "newest")
    assert seen == [t.reference for t in expected]


def test_assignee_filter_in_the_tier_view(client, agent1):
    other = make_agent(1, username="other1")
    mine = TicketFactory(tier=1, assignee=agent1, escalate_at=timezone.now())
    free = TicketFactory(tier=1, escalate_at=timezone.now())
    TicketFactory(tier=1, assignee=other, escalate_at=timezone.now())
    client.force_login(agent1)
    assert refs(client.get(QUEUE, {"assignee": "none"})) == [free.reference]
    assert refs(client.get(QUEUE, {"assignee": "me"})) == [mine.reference]
    assert refs(client.get(QUEUE, {"assignee": str(agent1.pk)})) == [mine.reference]
    assert refs(client.get(QUEUE, {"assignee": str(other.pk)})) == []


# ---------------------------------------------------------------------------
# After a write, the next view shows it
# ---------------------------------------------------------------------------


def test_after_claim_the_queue_shows_the_assignee(
    client, make_ticket, agent1, frozen, django_capture_on_commit_callbacks
):
    ticket = make_ticket()
    client.force_login(agent1)
    assert "Claim</button>" in row(client.get(QUEUE), ticket.reference)
    # Cached now: the same view again is served from the cache (no ticket queries).
    assert "Claim</button>" in row(client.get(QUEUE), ticket.reference)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("tickets:agent-claim", args=[ticket.reference]))
    assert response.status_code == 302
    cells = row(client.get(QUEUE), ticket.reference)
    assert "Claim</button>" not in cells and "<td>agent1</td>" in cells


def test_after_reply_waiting_for_customer_the_clock_shows_paused(
    client, make_ticket, agent1, frozen, django_capture_on_commit_callbacks
):
    ticket = make_ticket()
    client.force_login(agent1)
    assert "data-deadline" in row(client.get(QUEUE), ticket.reference)
    with django_capture_on_commit_callbacks(execute=True):
        core.ticket_reply(ticket=ticket, agent=agent1, body="?", pending_customer=True)
    cells = row(client.get(QUEUE), ticket.reference)
    assert "paused: waiting for customer" in cells and "data-deadline" not in cells


def test_after_escalation_the_ticket_leaves_the_tier_1_queue(
    client, make_ticket, agent1, frozen, django_capture_on_commit_callbacks
):
    ticket = make_ticket()
    client.force_login(agent1)
    assert ticket.reference in refs(client.get(QUEUE))
    with django_capture_on_commit_callbacks(execute=True):
        core.ticket_escalate(ticket=ticket, actor=agent1, **HANDOFF)
    assert ticket.reference not in refs(client.get(QUEUE))


def test_after_a_sweep_promotion_the_ticket_leaves_the_queue(
    client, make_ticket, agent1, frozen, django_capture_on_commit_callbacks
):
    from tiers.services import escalation_sweep

    ticket = make_ticket()
    client.force_login(agent1)
    assert ticket.reference in refs(client.get(QUEUE))
    overdue = timezone.now() - timedelta(minutes=1)
    Ticket.objects.filter(pk=ticket.pk).update(escalate_at=overdue)
    # The direct update above bumps nothing (a test shortcut): the cached rows stay.
    assert ticket.reference in refs(client.get(QUEUE))
    with django_capture_on_commit_callbacks(execute=True):
        report = escalation_sweep(now=timezone.now())
    assert report.promoted
    ticket.refresh_from_db()
    assert ticket.tier == 2
    assert ticket.reference not in refs(client.get(QUEUE))


def test_the_bell_count_follows_new_and_read_notifications(
    client, agent1, frozen, django_capture_on_commit_callbacks
):
    client.force_login(agent1)
    assert 'data-testid="bell-count">0<' in client.get(QUEUE).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        Notification.objects.create(user=agent1, text="one")
    assert 'data-testid="bell-count">1<' in client.get(QUEUE).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("tickets:agent-notifications-read"), {"all": "1"})
    assert 'data-testid="bell-count">0<' in client.get(QUEUE).content.decode()


# ---------------------------------------------------------------------------
# Scope and safety
# ---------------------------------------------------------------------------


def test_another_user_never_gets_my_rows(client, make_ticket, agent1, frozen):
    colleague = make_agent(1, username="colleague")
    mine = make_ticket(subject="mine")
    core.ticket_claim(ticket=mine, agent=agent1)
    free = make_ticket(subject="free")
    client.force_login(agent1)
    assert set(refs(client.get(QUEUE))) == {mine.reference, free.reference}
    client.force_login(colleague)
    theirs = client.get(QUEUE)
    assert refs(theirs) == [free.reference]
    assert "agent1" not in theirs.content.decode().split('id="queue-rows"', 1)[1]


def test_rows_carry_no_csrf_token_and_the_page_one_claim_form(client, make_ticket, agent1):
    make_ticket()
    make_ticket()
    client.force_login(agent1)
    rows = client.get(QUEUE, {"partial": "rows"}).content.decode()
    assert "csrfmiddlewaretoken" not in rows
    assert rows.count('form="claim-form"') == 2
    page = client.get(QUEUE).content.decode()
    assert page.count('id="claim-form"') == 1
    claim_form = page.split('id="claim-form"', 1)[1].split("</form>", 1)[0]
    assert "csrfmiddlewaretoken" in claim_form


def test_time_left_is_rendered_and_carries_its_deadline(client, make_ticket, agent1):
    ticket = make_ticket()
    client.force_login(agent1)
    cells = row(client.get(QUEUE), ticket.reference)
    deadline = re.search(r'data-deadline="([^"]+)"', cells).group(1)
    assert deadline == ticket.escalate_at.astimezone(UTC).isoformat(timespec="seconds")
    low = int(re.search(r'data-low="(\d+)"', cells).group(1))
    assert low == int(ticket.tier_budget.total_seconds() * q.LOW_TIME_SHARE)
    assert re.search(r">\d+h \d\dm<", cells)  # the server's text, before any JS


def test_user_text_is_escaped_in_the_rows(client, agent1):
    TicketFactory(
        tier=1,
        subject='<script>alert("x")</script>',
        requester_name="O'Brien & <b>Co</b>",
        escalate_at=timezone.now(),
    )
    client.force_login(agent1)
    body = client.get(QUEUE).content.decode()
    assert "<script>alert" not in body and "&lt;script&gt;alert(&quot;x&quot;)" in body
    assert "O&#x27;Brien &amp; &lt;b&gt;Co&lt;/b&gt;" in body


def test_a_deactivated_agent_is_refused_on_the_next_request(
    client, agent1, frozen, django_capture_on_commit_callbacks
):
    client.force_login(agent1)
    assert client.get(QUEUE).status_code == 200  # the profile is cached now
    assert client.get(QUEUE).status_code == 200
    from tiers.models import AgentProfile

    profile = AgentProfile.objects.get(user=agent1)
    with django_capture_on_commit_callbacks(execute=True):
        profile.is_active = False
        profile.save()
    assert client.get(QUEUE).status_code == 403
    assert client.get(QUEUE, {"partial": "rows"}).status_code == 403


def test_a_tier_change_changes_the_queue_on_the_next_request(
    client, make_ticket, agent1, agent2, frozen, django_capture_on_commit_callbacks
):
    from tiers.models import AgentProfile

    t1 = make_ticket(subject="tier one")
    t2 = make_ticket(subject="tier two")
    core.ticket_escalate(ticket=t2, actor=agent2, **HANDOFF)
    client.force_login(agent1)
    assert refs(client.get(QUEUE)) == [t1.reference]
    with django_capture_on_commit_callbacks(execute=True):
        AgentProfile.objects.filter(user=agent1).update(tier=2)
        caching.bump(caching.DIRECTORY)  # update() sends no signal; admin saves do
    response = client.get(QUEUE)
    assert refs(response) == [t2.reference]
    assert "Tier 2 queue" in response.content.decode()


def test_redis_down_the_queue_is_computed(client, make_ticket, agent1, settings):
    ticket = make_ticket()
    client.force_login(agent1)
    settings.CACHES = DEAD_CACHE
    response = client.get(QUEUE)
    assert response.status_code == 200
    assert refs(response) == [ticket.reference]
    assert client.get(QUEUE, {"partial": "rows"}).status_code == 200
    # Writes still succeed; their bump is skipped (logged).
    core.ticket_claim(ticket=ticket, agent=agent1)


def test_query_bounds_cold_and_warm(client, agent1, django_assert_max_num_queries):
    for i in range(60):
        TicketFactory(tier=1, escalate_at=timezone.now() + timedelta(minutes=i))
    client.force_login(agent1)
    client.get(reverse("tickets:agent-notifications"))  # warm the session
    with django_assert_max_num_queries(12):
        response = client.get(QUEUE)  # cold: every piece computed
    assert len(refs(response)) == q.PAGE_SIZE
    with django_assert_max_num_queries(2):
        response = client.get(QUEUE)  # warm: the user (the profile is cached too)
    assert len(refs(response)) == q.PAGE_SIZE


# ---------------------------------------------------------------------------
# The bump itself
# ---------------------------------------------------------------------------


def _tickets_version() -> int:
    return caching.version(caching.TICKETS)


def test_bumps_happen_after_commit_once_per_transaction(django_capture_on_commit_callbacks):
    start = _tickets_version()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        for _ in range(3):
            with transaction.atomic():  # a savepoint per write, as the sweep does
                caching.bump(caching.TICKETS)
        assert _tickets_version() == start  # nothing before the commit
    assert _tickets_version() == start + 1
    assert len(callbacks) == 3  # registered per released savepoint, applied once


def test_a_rolled_back_savepoint_does_not_lose_the_bump(django_capture_on_commit_callbacks):
    start = _tickets_version()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        with transaction.atomic():
            caching.bump(caching.TICKETS)
        try:
            with transaction.atomic():
                caching.bump(caching.TICKETS)
                raise RuntimeError
        except RuntimeError:
            pass
    assert _tickets_version() == start + 1

"""Service-level rules of tickets.services.agent that the pages rely on."""

from __future__ import annotations

import pytest

from helpdesk.exceptions import ConflictError, ForbiddenError
from tests.factories import make_agent
from tickets.models import Notification, TicketAccessGrant, TicketEvent
from tickets.selectors import user_can_act_on
from tickets.services import agent as svc
from tickets.services import core

pytestmark = pytest.mark.django_db
Kind = TicketEvent.Kind
HANDOFF = {"symptom": "s", "steps_tried": "t", "findings": "f"}


def test_bounce_leaves_ticket_unassigned_when_escalator_left(make_ticket, agent1, agent2):
    ticket = make_ticket()
    core.ticket_escalate(ticket=ticket, actor=agent1, **HANDOFF)
    # agent1 left the help desk meanwhile: the ticket goes back to the Tier 1 queue.
    from tiers.models import AgentProfile

    AgentProfile.objects.filter(user=agent1).update(is_active=False)
    svc.ticket_bounce(ticket=ticket, actor=agent2, reason="missing logs")
    ticket.refresh_from_db()
    assert ticket.tier == 1 and ticket.assignee_id is None and ticket.status == "new"


def test_bounce_after_a_timer_promotion_is_refused(make_ticket, agent1, agent2):
    ticket = make_ticket()
    core.ticket_escalate(ticket=ticket, actor=agent1, **HANDOFF)
    core.ticket_event_create(ticket=ticket, kind=Kind.PROMOTED, data={"from_tier": 2, "to_tier": 2})
    with pytest.raises(core.TicketError):
        svc.ticket_bounce(ticket=ticket, actor=agent2, reason="x")


def test_avoidable_twice_is_a_conflict(make_ticket, agent1, agent2):
    ticket = make_ticket()
    core.ticket_escalate(ticket=ticket, actor=agent1, **HANDOFF)
    svc.ticket_mark_avoidable(ticket=ticket, actor=agent2, missing_article=True)
    with pytest.raises(ConflictError):
        svc.ticket_mark_avoidable(ticket=ticket, actor=agent2, missing_article=True)
    assert ticket.events.filter(kind=Kind.AVOIDABLE).count() == 1


def test_grant_is_manager_only_and_idempotent(make_ticket, agent1, agent2, agent3, manager):
    ticket = make_ticket()
    core.ticket_escalate(ticket=ticket, actor=agent1, **HANDOFF)
    core.ticket_escalate(ticket=ticket, actor=agent2, **HANDOFF)
    ticket.refresh_from_db()
    assert not user_can_act_on(user=agent1, ticket=ticket)
    with pytest.raises(ForbiddenError):
        svc.ticket_access_grant(ticket=ticket, manager=agent3, user=agent1)
    svc.ticket_access_grant(ticket=ticket, manager=manager, user=agent1)
    svc.ticket_access_grant(ticket=ticket, manager=manager, user=agent1)
    assert TicketAccessGrant.objects.filter(ticket=ticket, user=agent1).count() == 1
    assert ticket.events.filter(kind=Kind.NOTE, data__access_grant=agent1.pk).count() == 1
    assert Notification.objects.filter(user=agent1, ticket=ticket).count() == 1
    assert user_can_act_on(user=agent1, ticket=ticket)
    assert not user_can_act_on(user=make_agent(1), ticket=ticket)


def test_merge_refuses_merged_or_closed_targets(make_ticket, agent1):
    a, b, c = make_ticket(), make_ticket(), make_ticket()
    svc.ticket_merge(source=a, target=b, actor=agent1)
    with pytest.raises(core.TicketError):
        svc.ticket_merge(source=c, target=a, actor=agent1)  # a is closed and merged
    with pytest.raises(core.TicketError):
        svc.ticket_merge(source=a, target=c, actor=agent1)  # a is already closed


def test_presence_survives_a_cache_outage(make_ticket, agent1, monkeypatch):
    ticket = make_ticket()

    def broken(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(svc.cache, "get", broken)
    assert svc.presence_touch(ticket=ticket, user=agent1) == []


def test_presence_is_rewritten_only_when_it_gets_old(make_ticket, agent1, agent2, monkeypatch):
    ticket = make_ticket()
    clock = [1_000_000.0]
    monkeypatch.setattr(svc.time, "time", lambda: clock[0])
    writes = []
    real_set = svc.cache.set
    monkeypatch.setattr(svc.cache, "set", lambda *a, **k: writes.append(a[0]) or real_set(*a, **k))

    assert svc.presence_touch(ticket=ticket, user=agent1) == []
    assert svc.presence_touch(ticket=ticket, user=agent2) == ["agent1"]
    assert len(writes) == 2
    clock[0] += svc.PRESENCE_REFRESH - 1
    # Polls within the refresh interval read the marks and write nothing.
    assert svc.presence_touch(ticket=ticket, user=agent1) == ["agent2"]
    assert len(writes) == 2
    clock[0] += 2
    assert svc.presence_touch(ticket=ticket, user=agent1) == ["agent2"]
    assert len(writes) == 3
    # agent2 stopped polling: gone once their mark is older than the TTL.
    clock[0] += svc.PRESENCE_TTL
    assert svc.presence_touch(ticket=ticket, user=agent1) == []


def test_events_since_ignores_my_own_and_system_events(make_ticket, agent1):
    ticket = make_ticket()
    seen = ticket.events.order_by("-id").first().pk
    core.ticket_add_note(ticket=ticket, agent=agent1, body="mine")
    core.ticket_claim(ticket=ticket, agent=agent1)
    assert svc.events_since(ticket=ticket, last_event_id=seen, user=agent1) == []
    core.ticket_customer_reply(ticket=ticket, body="hello?")
    (event,) = svc.events_since(ticket=ticket, last_event_id=seen, user=agent1)
    assert event.kind == Kind.CUSTOMER_REPLY

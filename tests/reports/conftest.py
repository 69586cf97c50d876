"""A small, hand-built help-desk day whose right answers are written in the tests.

Day D = 2026-03-10 (UTC); every ticket is in the ``category`` fixture (entry Tier 1).
"Now" is D+2 12:00, the range D..D+2.

* A (normal): created 09:00, reply 09:30, resolved 10:00 by agent1 with the
  "reset-password" article — first contact. Rated 5.
* B (high): created 09:00, reply 10:00, escalated 1→2 by agent1 at 11:00 (marked
  avoidable: the article would have solved it), SLA breached 12:00, resolved by
  agent2 at 13:00. Rated 3.
* C (normal): created 09:00, resolved by agent1 at 09:20 with no reply (first
  response = resolution), reopened 12:00, resolved again 14:00 by agent1.
* D (normal): created 09:00, no first response yet (new).
* E (low): created 09:00, reply 09:10 asking the customer → pending customer, the
  tier clock paused.
* F (normal): created 09:00, escalated by agent1 at 10:00, de-escalated by agent2 at
  11:00, escalated again by agent1 at 12:00 (ping-pong; marked avoidable, missing
  article); open at Tier 2.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine

from tests.factories import ArticleFactory
from tickets.models import SatisfactionRating, Ticket, TicketEvent
from tickets.services import core

D = date(2026, 3, 10)
NOW = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)


def at(hour: int, minute: int = 0, day: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


HANDOFF = {"symptom": "Cannot log in", "steps_tried": "Reset", "findings": "Locked"}


@pytest.fixture
def scenario(make_ticket, agent1, agent2, category):
    article = ArticleFactory(slug="reset-password", title="Reset your password")
    with time_machine.travel(at(9), tick=False) as clock:
        a = make_ticket(priority="normal", subject="A")
        b = make_ticket(priority="high", subject="B")
        c = make_ticket(priority="normal", subject="C")
        d = make_ticket(priority="normal", subject="D")
        e = make_ticket(priority="low", subject="E")
        f = make_ticket(priority="normal", subject="F")

        clock.move_to(at(9, 10))
        core.ticket_reply(ticket=e, agent=agent1, body="Which browser?", pending_customer=True)
        clock.move_to(at(9, 20))
        core.ticket_resolve(ticket=c, actor=agent1, resolution="Unlocked.")
        clock.move_to(at(9, 30))
        core.ticket_reply(ticket=a, agent=agent1, body="Try this article.")
        clock.move_to(at(10))
        core.ticket_resolve(ticket=a, actor=agent1, resolution="Reset.", article=article)
        core.ticket_reply(ticket=b, agent=agent1, body="Looking.")
        core.ticket_escalate(ticket=f, actor=agent1, **HANDOFF)
        clock.move_to(at(11))
        core.ticket_escalate(ticket=b, actor=agent1, **HANDOFF)
        core.ticket_deescalate(ticket=f, actor=agent2, reason="Tier 1 can do this.")
        clock.move_to(at(12))
        core.ticket_escalate(ticket=f, actor=agent1, **HANDOFF)
        core.ticket_reopen(ticket=c, actor=None, reason="Still broken.")
        Ticket.objects.filter(pk=b.pk).update(sla_breached_at=at(12))
        for ticket, data in (
            (b, {"article": "reset-password", "missing_article": False}),
            (f, {"article": None, "missing_article": True}),
        ):
            core.ticket_event_create(
                ticket=ticket,
                kind=TicketEvent.Kind.AVOIDABLE,
                actor=agent2,
                data={
                    "tier": 1,
                    "escalated_by": agent1.pk,
                    "category_id": category.pk,
                    **data,
                },
            )
        clock.move_to(at(13))
        core.ticket_claim(ticket=b, agent=agent2)
        core.ticket_resolve(ticket=b, actor=agent2, resolution="Fixed the backend.")
        clock.move_to(at(14))
        core.ticket_resolve(ticket=c, actor=agent1, resolution="Unlocked for good.")
        SatisfactionRating.objects.create(
            ticket=a, resolution_round=0, rating=5, resolved_tier=1, resolved_by=agent1
        )
        SatisfactionRating.objects.create(
            ticket=b, resolution_round=0, rating=3, resolved_tier=2, resolved_by=agent2
        )
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "article": article}

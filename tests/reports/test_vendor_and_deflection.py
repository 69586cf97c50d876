"""Vendor scorecards and the deflection funnel on small hand-built data."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from reports.selectors import DashboardFilters, dashboard_summary
from tests.factories import ArticleFactory, CategoryFactory, VendorFactory
from tickets.models import Deflection, Ticket, TicketEvent
from tickets.services import core
from tiers.models import VendorHandoff

from .conftest import NOW, D, at

pytestmark = pytest.mark.django_db

RANGE = DashboardFilters(start=D, end=D + timedelta(days=2))


def summary(filters: DashboardFilters = RANGE) -> dict:
    with time_machine.travel(NOW, tick=False):
        return dashboard_summary(filters=filters, now=NOW)


def _handoff(ticket, vendor, *, created, respond, done) -> VendorHandoff:
    with time_machine.travel(created, tick=False):
        core.ticket_event_create(
            ticket=ticket,
            kind=TicketEvent.Kind.VENDOR_HANDOFF,
            data={"from_tier": 3, "to_tier": 4, "vendor": vendor.pk},
        )
        Ticket.objects.filter(pk=ticket.pk).update(tier=4, status="pending_vendor")
        return VendorHandoff.objects.create(
            ticket=ticket,
            vendor=vendor,
            nonce=f"n{ticket.pk}",
            expires_at=created + timedelta(days=14),
            respond_by=created + timedelta(hours=8),
            resolve_by=created + timedelta(days=1),
            first_response_at=respond,
            done_at=done,
        )


def test_vendor_scorecard(make_ticket, agent3):
    firmware = CategoryFactory(name="Firmware", slug="firmware", entry_tier=3)
    vendor = VendorFactory(company="Acme", name="Dana", response_target=timedelta(hours=8))
    with time_machine.travel(at(8), tick=False):
        t1 = make_ticket(category=firmware, subject="Switch firmware")
        t2 = make_ticket(category=firmware, subject="Router firmware")
        t3 = make_ticket(category=firmware, subject="Printer firmware")
    # t1: answered in 2 h, done in 5 h (both in time), then reopened: a bad fix.
    _handoff(t1, vendor, created=at(10), respond=at(12), done=at(15))
    # t2: answered in 10 h (late), done after 2 days (late).
    _handoff(t2, vendor, created=at(10), respond=at(20), done=at(10, day=12))
    # t3: no answer yet, past its respond-by: overdue now.
    _handoff(t3, vendor, created=at(10), respond=None, done=None)
    for ticket, when in ((t1, at(16)), (t2, at(11, day=12))):
        with time_machine.travel(when, tick=False):
            core.ticket_resolve(ticket=ticket, actor=agent3, resolution="Vendor patched it.")
    with time_machine.travel(at(9, day=11), tick=False):
        core.ticket_reopen(ticket=t1, actor=None, reason="Broken again.")

    s = summary()
    [row] = s["vendors"]
    assert row["vendor"] == "Acme (Dana)"
    assert row["handoffs"] == 3
    assert row["responded"] == 2
    assert row["response_median_seconds"] == 6 * 3600.0  # (2 h + 10 h) / 2
    assert row["response_within_target_rate"] == 0.5
    assert row["response_overdue_now"] == 1
    assert row["done"] == 2
    assert row["resolution_within_target_rate"] == 0.5
    assert row["reopened_after_fix"] == 1
    assert row["reopen_after_fix_rate"] == 0.5
    assert row["response_target_seconds"] == 8 * 3600.0
    # The hand-off moved the tickets 3→4: that is the 3→4 escalation step.
    step = s["escalation_steps"][2]
    assert (step["step"], step["escalated"]) == ("3→4", 3)
    # Tier filters other than 4 hide vendor scorecards.
    assert summary(DashboardFilters(start=D, end=RANGE.end, tier=1))["vendors"] == []


def test_vendor_handoff_next_to_a_promotion_is_not_counted_twice(make_ticket):
    cat = CategoryFactory(name="Firmware", slug="firmware", entry_tier=3)
    with time_machine.travel(at(8), tick=False):
        ticket = make_ticket(category=cat)
    with time_machine.travel(at(9), tick=False):
        core.ticket_event_create(
            ticket=ticket, kind=TicketEvent.Kind.PROMOTED, data={"from_tier": 3, "to_tier": 4}
        )
        core.ticket_event_create(
            ticket=ticket,
            kind=TicketEvent.Kind.VENDOR_HANDOFF,
            data={"from_tier": 3, "to_tier": 4},
        )
    s = summary()
    assert s["escalation_steps"][2]["escalated"] == 1
    assert s["times"]["tier_time"]["by_tier"]["3"]["count"] == 1


def test_deflection_funnel_and_articles(db, customer):
    art1 = ArticleFactory(title="VPN setup", slug="vpn")
    art2 = ArticleFactory(title="Printer jams", slug="printer")
    with time_machine.travel(at(9), tick=False):
        # s1: two suggestions, the customer opens one and sends nothing: deflected.
        Deflection.objects.create(session_key="s1", article=art1, opened_at=at(9, 1))
        Deflection.objects.create(session_key="s1", article=art2)
        # s2: opens the suggestion, then submits anyway.
        ticket = Ticket.objects.create(
            subject="x",
            description="x",
            category=CategoryFactory(),
            requester_name="P",
            requester_email="p@example.com",
        )
        Deflection.objects.create(session_key="s2", article=art1, opened_at=at(9, 2), ticket=ticket)
        # s3: never opens anything.
        Deflection.objects.create(session_key="s3", article=art2)
    s = summary()
    assert s["funnel"] == {
        "sessions_shown": 3,
        "sessions_opened": 2,
        "sessions_deflected": 1,
        "open_rate": round(2 / 3, 4),
        "deflection_rate": round(1 / 3, 4),
    }
    from reports.exports import table_csv

    assert table_csv("funnel", s).splitlines() == [
        "step,sessions,rate",
        "shown suggestions,3,",
        "opened an article,2,0.6667",
        "sent no ticket (deflected),1,0.3333",
    ]
    assert s["articles"] == [
        {
            "slug": "vpn",
            "title": "VPN setup",
            "resolved": 0,
            "shown": 2,
            "opened": 2,
            "deflected": 1,
        },
    ]

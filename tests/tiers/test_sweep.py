"""The escalation sweep with a fixed clock: each transition, warnings, SLA checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from helpdesk.exceptions import ConflictError
from tickets.models import Notification, Ticket, TicketEvent
from tickets.services import ticket_change_status, ticket_claim, ticket_escalate, ticket_reply
from tiers.models import VendorHandoff
from tiers.services import escalation_sweep, promote_dedupe_key

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)
Kind = TicketEvent.Kind

pytestmark = pytest.mark.django_db

EXPLAIN_KEYS = {
    "from_tier", "to_tier", "policy_id", "budget_seconds", "calendar", "spent_seconds",
    "paused_seconds", "deadline", "acted_at", "lag_ms",
}  # fmt: skip


@pytest.fixture
def ticket(make_ticket):
    with time_machine.travel(T0, tick=False):
        return make_ticket(priority="normal")  # Tier 1 normal: 8 h, warning at 6 h


def sweep_at(moment: datetime, **kwargs):
    with time_machine.travel(moment, tick=False):
        return escalation_sweep(now=moment, **kwargs)


def test_not_promoted_before_its_deadline(ticket):
    report = sweep_at(T0 + 8 * H - timedelta(seconds=1))
    ticket.refresh_from_db()
    assert ticket.tier == 1 and report.promoted == []


def test_promoted_at_its_deadline_with_an_explained_event(
    ticket, agent1, agent2, django_capture_on_commit_callbacks, mailoutbox
):
    ticket_claim(ticket=ticket, agent=agent1)
    with django_capture_on_commit_callbacks(execute=True):
        report = sweep_at(T0 + 8 * H)
    ticket.refresh_from_db()
    assert (ticket.tier, ticket.status, ticket.assignee) == (2, "new", None)
    assert ticket.escalation_count == 1
    assert ticket.escalate_at == T0 + 8 * H + 16 * H  # fresh Tier 2 normal budget
    assert report.promoted == [(ticket.reference, 1, 2, 0)]

    event = ticket.events.get(kind=Kind.PROMOTED)
    assert set(event.data) >= EXPLAIN_KEYS
    assert event.data["budget_seconds"] == 8 * 3600
    assert event.data["spent_seconds"] == 8 * 3600
    assert event.data["deadline"] == (T0 + 8 * H).isoformat()
    assert event.dedupe_key == promote_dedupe_key(ticket.pk, 1, T0 + 8 * H)
    assert "Tier 1 budget of 8:00:00 exceeded" in event.body
    # The new tier hears of it: e-mail and the in-app list.
    assert any(agent2.email in m.to for m in mailoutbox)
    assert Notification.objects.filter(user=agent2, ticket=ticket).exists()
    # The previous tier's work stays on the timeline.
    assert ticket.events.filter(kind=Kind.ASSIGNED).exists()


def test_a_second_sweep_for_the_same_deadline_does_nothing(ticket):
    sweep_at(T0 + 8 * H)
    report = sweep_at(T0 + 8 * H + timedelta(seconds=5))
    assert report.promoted == []
    assert ticket.events.filter(kind=Kind.PROMOTED).count() == 1


def test_climbs_to_tier_3_then_to_the_vendor(
    ticket, agent3, django_capture_on_commit_callbacks, mailoutbox
):
    from tests.factories import VendorFactory

    vendor = VendorFactory(response_target=4 * H, resolution_target=48 * H)
    vendor.categories.add(ticket.category)
    sweep_at(T0 + 8 * H)
    sweep_at(T0 + 24 * H)  # + Tier 2 normal 16 h
    ticket.refresh_from_db()
    assert ticket.tier == 3
    ticket_claim(ticket=ticket, agent=agent3)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        report = sweep_at(T0 + 48 * H)  # + Tier 3 normal 24 h
    ticket.refresh_from_db()
    assert report.handed_off == [(ticket.reference, vendor.company)]
    assert (ticket.tier, ticket.status, ticket.escalate_at) == (4, "pending_vendor", None)
    assert ticket.owner == agent3  # the last Tier 3 assignee stays accountable
    assert ticket.escalation_count == 3
    handoff = VendorHandoff.objects.get(ticket=ticket)
    assert handoff.respond_by == T0 + 48 * H + 4 * H
    assert handoff.resolve_by == T0 + 48 * H + 48 * H
    event = ticket.events.get(kind=Kind.VENDOR_HANDOFF)
    assert event.data["handoff_id"] == handoff.pk and event.data["budget_seconds"] == 24 * 3600
    vendor_mail = [m for m in mailoutbox if vendor.email in m.to]
    assert len(vendor_mail) == 1
    assert "/vendor/" in vendor_mail[0].body
    assert vendor_mail[0].alternatives[0][1] == "text/html"


def test_tier_3_timeout_without_a_vendor_flags_and_alerts_managers(
    ticket, agent1, manager, django_capture_on_commit_callbacks, mailoutbox
):
    with time_machine.travel(T0 + H, tick=False):
        ticket_reply(ticket=ticket, agent=agent1, body="Looking into it.")  # SLA answered
    sweep_at(T0 + 8 * H)
    sweep_at(T0 + 24 * H)
    with django_capture_on_commit_callbacks(execute=True):
        report = sweep_at(T0 + 48 * H)
    ticket.refresh_from_db()
    assert report.no_vendor == [ticket.reference]
    assert ticket.tier == 3 and ticket.escalate_at is None
    assert ticket.sla_breached_at == T0 + 48 * H
    event = ticket.events.get(kind=Kind.SLA_BREACH, data__reason="no_vendor")
    assert "No vendor covers" in event.body
    assert any(manager.email in m.to for m in mailoutbox)
    assert Notification.objects.filter(user=manager, ticket=ticket).exists()
    assert sweep_at(T0 + 49 * H).no_vendor == []  # alerted once


def test_the_75_percent_warning_fires_once_per_tier_visit(ticket, agent1):
    assert sweep_at(T0 + 6 * H - timedelta(seconds=1)).warnings == []
    report = sweep_at(T0 + 6 * H)
    assert report.warnings == [(ticket.reference, 1)]
    ticket.refresh_from_db()
    assert ticket.escalation_warn_at is None
    event = ticket.events.get(kind=Kind.TIER_WARNING)
    assert event.data["percent"] == 75 and event.data["deadline"] == (T0 + 8 * H).isoformat()
    # The text people read gives the time as people write it (the data keeps ISO).
    assert event.body.endswith("the ticket escalates at 2026-11-23 17:00 UTC.")
    assert Notification.objects.filter(user=agent1, event=event).exists()
    assert sweep_at(T0 + 7 * H).warnings == []
    # A new tier visit gets its own warning (Tier 2 normal: 16 h, warning at 12 h).
    sweep_at(T0 + 8 * H)
    assert sweep_at(T0 + 8 * H + 12 * H).warnings == [(ticket.reference, 2)]
    assert ticket.events.filter(kind=Kind.TIER_WARNING).count() == 2


def test_a_paused_clock_is_not_promoted_and_resumes_with_a_moved_deadline(ticket, agent1):
    with time_machine.travel(T0 + 2 * H, tick=False):
        ticket_reply(ticket=ticket, agent=agent1, body="Which browser?", pending_customer=True)
    assert sweep_at(T0 + 20 * H).promoted == []
    with time_machine.travel(T0 + 20 * H, tick=False):
        ticket_change_status(ticket=ticket, actor=agent1, status="open")
    ticket.refresh_from_db()
    assert ticket.escalate_at == T0 + 26 * H  # 6 h of budget were left
    report = sweep_at(T0 + 26 * H)
    assert [p[:3] for p in report.promoted] == [(ticket.reference, 1, 2)]
    event = ticket.events.get(kind=Kind.PROMOTED)
    assert event.data["paused_seconds"] == 18 * 3600
    assert event.data["spent_seconds"] == 8 * 3600


def test_a_resolved_ticket_is_never_promoted(ticket, agent1):
    from tickets.services import ticket_resolve

    ticket_resolve(ticket=ticket, actor=agent1, resolution="Reset the password.")
    assert sweep_at(T0 + 100 * H).promoted == []


def test_manual_escalation_after_the_timer_is_a_conflict(ticket, manager):
    sweep_at(T0 + 8 * H)
    with pytest.raises(ConflictError, match="already at Tier 2"):
        ticket_escalate(
            ticket=ticket,
            actor=manager,
            symptom="s",
            steps_tried="t",
            findings="f",
            expected_tier=1,
        )
    assert ticket.events.filter(kind__in=[Kind.PROMOTED, Kind.ESCALATED]).count() == 1


def test_manual_escalation_first_leaves_nothing_for_the_timer(ticket, agent1):
    with time_machine.travel(T0 + 7 * H, tick=False):
        ticket_escalate(
            ticket=ticket, actor=agent1, symptom="s", steps_tried="t", findings="f", expected_tier=1
        )
    assert sweep_at(T0 + 8 * H).promoted == []


def test_bulk_and_single_paths_agree_over_a_batch_boundary(make_ticket):
    with time_machine.travel(T0, tick=False):
        tickets = [make_ticket(subject=f"Issue {i}") for i in range(7)]
    report = sweep_at(T0 + 9 * H, batch=3)
    assert len(report.promoted) == 7
    assert set(Ticket.objects.values_list("tier", flat=True)) == {2}
    assert TicketEvent.objects.filter(kind=Kind.PROMOTED).count() == 7
    assert {t.reference for t in tickets} == {p[0] for p in report.promoted}


class TestSLA:
    def test_first_response_warning_then_breach_each_once(self, ticket, agent1):
        # Normal SLA: first response 4 h (warning at 3 h), resolution 3 days.
        assert ticket.sla_warn_at == T0 + 3 * H
        report = sweep_at(T0 + 3 * H)
        assert report.sla_warnings == [(ticket.reference, "first_response")]
        ticket.refresh_from_db()
        assert ticket.sla_warn_at == T0 + 4 * H  # the breach is the next checkpoint
        assert sweep_at(T0 + 3 * H + timedelta(minutes=1)).sla_warnings == []
        report = sweep_at(T0 + 4 * H)
        assert report.sla_breaches == [(ticket.reference, "first_response")]
        ticket.refresh_from_db()
        assert ticket.sla_breached_at == T0 + 4 * H
        # Next: the resolution warning at 75% of 3 days.
        assert ticket.sla_warn_at == T0 + timedelta(days=3) * 0.75
        assert ticket.events.filter(kind=Kind.SLA_BREACH).count() == 1

    def test_answered_ticket_skips_the_first_response_checkpoints(self, ticket, agent1):
        with time_machine.travel(T0 + H, tick=False):
            ticket_reply(ticket=ticket, agent=agent1, body="On it.")
        report = sweep_at(T0 + 3 * H)
        assert report.sla_warnings == []
        ticket.refresh_from_db()
        assert ticket.sla_warn_at == T0 + timedelta(days=3) * 0.75

    def test_late_sweep_writes_only_the_breach(self, ticket):
        # Workers were down for the whole first-response window.
        report = sweep_at(T0 + 5 * H)
        assert report.sla_breaches == [(ticket.reference, "first_response")]
        assert report.sla_warnings == []
        ticket.refresh_from_db()
        assert ticket.sla_breached_at == T0 + 5 * H


def test_escalate_overdue_command_prints_what_it_did(ticket):
    out = StringIO()
    with time_machine.travel(T0 + 8 * H, tick=False):
        call_command("escalate_overdue", stdout=out)
    text = out.getvalue()
    assert f"Promoted {ticket.reference}: Tier 1 → Tier 2" in text
    assert "1 promoted" in text


def test_one_bad_ticket_does_not_hold_back_its_batch(make_ticket):
    with time_machine.travel(T0, tick=False):
        tickets = [make_ticket(subject=f"Issue {i}") for i in range(4)]
    bad = tickets[1]
    # An event already claims this deadline (as if written by an earlier, lost run).
    TicketEvent.objects.create(
        ticket=bad, kind=Kind.PROMOTED, dedupe_key=promote_dedupe_key(bad.pk, 1, T0 + 8 * H)
    )
    report = sweep_at(T0 + 9 * H)
    assert sorted(p[0] for p in report.promoted) == sorted(
        t.reference for t in tickets if t.pk != bad.pk
    )
    assert bad.events.filter(kind=Kind.PROMOTED).count() == 1  # never a second one


def test_tasks_are_thin_wrappers_over_the_services(ticket):
    from tiers import tasks

    with time_machine.travel(T0 + 8 * H, tick=False):
        result = tasks.escalation_sweep.delay().get()
        assert result["promoted"] == 1
        assert tasks.escalation_sweep.delay().get()["promoted"] == 0  # idempotent
        assert tasks.vendor_followup.delay().get() == {
            "chased": 0,
            "overdue": 0,
            "alerts_resent": 0,
        }


def test_beat_runs_the_sweep_first_and_often(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["escalation-sweep"]
    assert entry["task"] == "tiers.tasks.escalation_sweep"
    assert entry["schedule"].total_seconds() == settings.ESCALATION_SWEEP_SECONDS
    assert entry["options"]["priority"] < settings.CELERY_TASK_DEFAULT_PRIORITY
    assert "tiers.tasks.vendor_followup" in {
        e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()
    }

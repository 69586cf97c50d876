"""The tier-budget and customer-SLA clocks of a ticket.

These helpers only set fields on an in-memory ticket; the calling service saves
and writes the event, inside its transaction. ``escalate_at`` is NULL whenever the
tier clock is not running, so the sweep index holds live tickets only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tiers.business_time import add_business_time, business_time_between
from tiers.selectors import budget_rule_for, calendar_default, sla_policy_for

from ..models import Ticket

if TYPE_CHECKING:
    from tiers.models import SLAPolicy

CLOCK_FIELDS = [
    "escalate_at",
    "escalation_warn_at",
    "tier_entered_at",
    "tier_budget",
    "clock_paused_at",
    "budget_remaining_at_pause",
    "warn_remaining_at_pause",
    "paused_business_time",
]
SLA_FIELDS = [
    "first_response_due", "resolution_due", "sla_warn_at", "pending_since", "sla_paused_time",
]  # fmt: skip


def clock_start(ticket: Ticket, *, now: datetime) -> None:
    """Start a fresh budget in the ticket's current tier (entering a tier, reopening)."""
    rule = budget_rule_for(tier=ticket.tier, priority=ticket.priority)
    ticket.tier_entered_at = now
    ticket.clock_paused_at = None
    ticket.budget_remaining_at_pause = None
    ticket.warn_remaining_at_pause = None
    ticket.paused_business_time = timedelta(0)
    if rule is None:  # Tier 4: the vendor's own targets apply, not a tier budget.
        ticket.escalate_at = ticket.escalation_warn_at = ticket.tier_budget = None
        return
    ticket.tier_budget = rule.budget
    ticket.escalate_at = add_business_time(rule.calendar, now, rule.budget)
    ticket.escalation_warn_at = add_business_time(
        rule.calendar, now, rule.budget * rule.warn_at_percent / 100
    )


def clock_stop(ticket: Ticket) -> None:
    ticket.escalate_at = None
    ticket.escalation_warn_at = None
    ticket.clock_paused_at = None
    ticket.budget_remaining_at_pause = None
    ticket.warn_remaining_at_pause = None


def clock_pause(ticket: Ticket, *, now: datetime) -> None:
    """Freeze the remaining budget (pending customer). Idempotent."""
    if ticket.clock_paused_at is not None or ticket.escalate_at is None:
        return
    rule = budget_rule_for(tier=ticket.tier, priority=ticket.priority)
    calendar = rule.calendar if rule else calendar_default()
    ticket.budget_remaining_at_pause = business_time_between(calendar, now, ticket.escalate_at)
    ticket.warn_remaining_at_pause = (
        business_time_between(calendar, now, ticket.escalation_warn_at)
        if ticket.escalation_warn_at
        else None
    )
    ticket.clock_paused_at = now
    ticket.escalate_at = None
    ticket.escalation_warn_at = None


def clock_resume(ticket: Ticket, *, now: datetime) -> timedelta:
    """Restart a paused clock: the deadline moves by the paused business time.
    Returns the business time that was paused."""
    if ticket.clock_paused_at is None:
        return timedelta(0)
    rule = budget_rule_for(tier=ticket.tier, priority=ticket.priority)
    calendar = rule.calendar if rule else calendar_default()
    paused = business_time_between(calendar, ticket.clock_paused_at, now)
    remaining = ticket.budget_remaining_at_pause or timedelta(0)
    ticket.escalate_at = add_business_time(calendar, now, remaining)
    if ticket.warn_remaining_at_pause is not None:
        ticket.escalation_warn_at = add_business_time(calendar, now, ticket.warn_remaining_at_pause)
    ticket.paused_business_time = (ticket.paused_business_time or timedelta(0)) + paused
    ticket.clock_paused_at = None
    ticket.budget_remaining_at_pause = None
    ticket.warn_remaining_at_pause = None
    return paused


def clock_rebudget(ticket: Ticket, *, now: datetime) -> None:
    """Priority changed: keep the business time already spent in the tier, apply the
    new budget to the rest."""
    rule = budget_rule_for(tier=ticket.tier, priority=ticket.priority)
    if rule is None or ticket.tier_entered_at is None:
        return
    paused = ticket.paused_business_time or timedelta(0)
    end = ticket.clock_paused_at or now
    spent = business_time_between(rule.calendar, ticket.tier_entered_at, end) - paused
    remaining = max(rule.budget - spent, timedelta(0))
    warn_total = rule.budget * rule.warn_at_percent / 100
    warn_remaining = warn_total - spent
    ticket.tier_budget = rule.budget
    if ticket.clock_paused_at is not None:
        ticket.budget_remaining_at_pause = remaining
        ticket.warn_remaining_at_pause = warn_remaining if warn_remaining > timedelta(0) else None
        return
    ticket.escalate_at = add_business_time(rule.calendar, now, remaining)
    if ticket.escalation_warn_at is not None or warn_remaining > timedelta(0):
        ticket.escalation_warn_at = (
            add_business_time(rule.calendar, now, warn_remaining)
            if warn_remaining > timedelta(0)
            else None
        )


def sla_start(ticket: Ticket, *, now: datetime) -> None:
    """Set the customer's first-response and resolution targets from the SLA policy.
    Business time spent waiting on the customer does not count against resolution."""
    ticket.pending_since = None
    policy, calendar = sla_policy_for(priority=ticket.priority)
    if policy is None:
        ticket.first_response_due = ticket.resolution_due = ticket.sla_warn_at = None
        return
    if ticket.first_response_at is None:
        ticket.first_response_due = add_business_time(calendar, now, policy.first_response)
    ticket.resolution_due = add_business_time(
        calendar, ticket.created_at or now, policy.resolution + _sla_paused(ticket)
    )
    _sla_next_warning(ticket, now=now, policy=policy, calendar=calendar)


def _sla_paused(ticket: Ticket) -> timedelta:
    return ticket.sla_paused_time or timedelta(0)


def _sla_next_warning(ticket: Ticket, *, now: datetime, policy: Any, calendar: Any) -> None:
    points = sla_points(ticket, now=now, policy=policy, calendar=calendar)
    ticket.sla_warn_at = min((at for at, _kind, _clock, _due in points), default=None)


def sla_pause(ticket: Ticket, *, now: datetime) -> None:
    """The ticket waits on the customer: the resolution target stops counting down and
    no SLA checkpoint fires until it resumes. Idempotent."""
    if ticket.pending_since is not None:
        return
    ticket.pending_since = now
    ticket.sla_warn_at = None


def sla_resume(ticket: Ticket, *, now: datetime) -> timedelta:
    """The customer answered (or the agent took the ticket back): the resolution target
    moves by the business time spent waiting. A target already missed when the wait
    began stays where it was (its breach is history, not something to fire again).
    Returns the business time that was paused."""
    since = ticket.pending_since
    if since is None:
        return timedelta(0)
    ticket.pending_since = None
    policy, calendar = sla_policy_for(priority=ticket.priority)
    paused = business_time_between(calendar, since, now)
    if policy is None or ticket.resolution_due is None:
        return paused
    if ticket.resolution_due > since:
        ticket.sla_paused_time = _sla_paused(ticket) + paused
        ticket.resolution_due = add_business_time(
            calendar, ticket.created_at or since, policy.resolution + ticket.sla_paused_time
        )
    _sla_next_warning(ticket, now=now, policy=policy, calendar=calendar)
    return paused


def sla_points(
    ticket: Ticket, *, now: datetime, policy: SLAPolicy | None, calendar: Any
) -> list[tuple[datetime, str, str, datetime]]:
    """The customer-SLA checkpoints ``(at, kind, clock, due)``, sorted: a warning when
    ``warn_at_percent`` of a target has passed since the ticket was opened (never after
    its due), and a breach at the due. ``sla_start`` sets ``sla_warn_at`` to the first;
    the escalation sweep fires them (``tiers.services.sla_checkpoints``)."""
    pct = (policy.warn_at_percent if policy else 75) / 100
    start = ticket.created_at or now
    points: list[tuple[datetime, str, str, datetime]] = []
    fr_due = ticket.first_response_due
    if ticket.first_response_at is None and fr_due:
        if policy is not None:
            warn = add_business_time(calendar, start, policy.first_response * pct)
            points.append((min(warn, fr_due), "warning", "first_response", fr_due))
        points.append((fr_due, "breach", "first_response", fr_due))
    res_due = ticket.resolution_due
    if res_due:
        if policy is not None:
            warn = add_business_time(calendar, start, policy.resolution * pct + _sla_paused(ticket))
            points.append((min(warn, res_due), "warning", "resolution", res_due))
        points.append((res_due, "breach", "resolution", res_due))
    return sorted(points)


def next_update_due(ticket: Ticket) -> datetime | None:
    """What the customer is told: when they will hear from us next."""
    if ticket.status in Ticket.DONE_STATUSES or ticket.status == Ticket.Status.PENDING_CUSTOMER:
        return None
    if ticket.first_response_at is None and ticket.first_response_due:
        return ticket.first_response_due
    return ticket.resolution_due

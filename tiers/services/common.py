"""What the escalation engine's parts share: constants, errors, the timer's explanation of a move, queueing after commit."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction

from helpdesk.exceptions import DomainError
from tickets.models import Ticket, TicketEvent
from tickets.services.notify import (
    bell,
    bells_store,
)

from ..business_time import business_time_between
from ..selectors import (
    BudgetRule,
    agents_of_tier,
    calendar_default,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    User = AbstractBaseUser

logger = logging.getLogger("tiers.services")

Kind = TicketEvent.Kind
Status = Ticket.Status


RUNNING = Ticket.CLOCK_RUNNING_STATUSES
TIMER = "escalation timer"

#: Events whose e-mail this module sends (``notified_at`` marks them sent).
ALERT_KINDS = (Kind.VENDOR_HANDOFF, Kind.SLA_BREACH, Kind.VENDOR_OVERDUE)
#: A vendor is reminded when this share of its response window has passed.
VENDOR_CHASE_AT = 0.75

# Columns the bulk promotion reads; the rest of the row (description…) stays on disk.
_SWEEP_COLUMNS = (
    "id",
    "reference",
    "subject",
    "tier",
    "status",
    "priority",
    "assignee",
    "owner",
    "category",
    "escalate_at",
    "escalation_warn_at",
    "tier_entered_at",
    "tier_budget",
    "clock_paused_at",
    "budget_remaining_at_pause",
    "warn_remaining_at_pause",
    "paused_business_time",
    "escalation_count",
    "updated_at",
    "created_at",
)


class EscalationError(DomainError):
    pass


class _CompareAndSetMissed(Exception):
    """A row did not match its expected tier/deadline: redo the batch ticket by ticket."""


@dataclass
class SweepReport:
    """What one sweep did, for the task result, the command's output and the logs."""

    now: datetime
    promoted: list[tuple[str, int, int, int]] = field(default_factory=list)
    handed_off: list[tuple[str, str]] = field(default_factory=list)
    no_vendor: list[str] = field(default_factory=list)
    warnings: list[tuple[str, int]] = field(default_factory=list)
    sla_warnings: list[tuple[str, str]] = field(default_factory=list)
    sla_breaches: list[tuple[str, str]] = field(default_factory=list)
    duration_ms: float = 0.0

    @property
    def promoted_count(self) -> int:
        return len(self.promoted) + len(self.handed_off)

    def summary(self) -> dict[str, Any]:
        return {
            "promoted": len(self.promoted),
            "handed_off": len(self.handed_off),
            "no_vendor": len(self.no_vendor),
            "warnings": len(self.warnings),
            "sla_warnings": len(self.sla_warnings),
            "sla_breaches": len(self.sla_breaches),
            "duration_ms": round(self.duration_ms, 1),
        }

    def lines(self) -> list[str]:
        out = [
            f"Promoted {ref}: Tier {a} → Tier {b} ({lag} ms after its deadline)"
            for ref, a, b, lag in self.promoted
        ]
        out += [f"Handed off {ref}: Tier 3 → vendor {vendor}" for ref, vendor in self.handed_off]
        out += [
            f"No vendor covers {ref}: flagged as breached, managers alerted"
            for ref in self.no_vendor
        ]
        out += [f"Warning {ref}: Tier {tier} budget nearly used" for ref, tier in self.warnings]
        out += [
            f"SLA warning {ref}: {clock.replace('_', ' ')} target near"
            for ref, clock in self.sla_warnings
        ]
        out += [
            f"SLA breach {ref}: {clock.replace('_', ' ')} target missed"
            for ref, clock in self.sla_breaches
        ]
        return out


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _seconds(value: timedelta | None) -> int:
    return int(value.total_seconds()) if value else 0


def promote_dedupe_key(ticket_id: int, tier: int, deadline: datetime) -> str:
    return f"promote:{ticket_id}:{tier}:{deadline.isoformat()}"


def explain(ticket: Ticket, rule: BudgetRule | None, acted_at: datetime) -> dict[str, Any]:
    """Why the timer acted: the budget that applied, the calendar, time spent/paused."""
    calendar = rule.calendar if rule else calendar_default()
    paused = ticket.paused_business_time or timedelta(0)
    spent = (
        business_time_between(calendar, ticket.tier_entered_at, acted_at) - paused
        if ticket.tier_entered_at
        else None
    )
    deadline = ticket.escalate_at
    return {
        "policy_id": rule.policy_id if rule else None,
        "budget_seconds": _seconds(ticket.tier_budget or (rule.budget if rule else None)),
        "calendar": calendar.describe(),
        "spent_seconds": _seconds(spent) if spent is not None else None,
        "paused_seconds": _seconds(paused),
        "deadline": _iso(deadline),
        "acted_at": acted_at.isoformat(),
        "lag_ms": int((acted_at - deadline).total_seconds() * 1000) if deadline else None,
    }


def _explain_text(from_tier: int, to_text: str, ex: dict[str, Any]) -> str:
    policy = f"policy #{ex['policy_id']}" if ex["policy_id"] else "built-in default budget"
    return (
        f"Tier {from_tier} budget of {timedelta(seconds=ex['budget_seconds'])} exceeded "
        f"({policy}, calendar {ex['calendar']}): "
        f"{timedelta(seconds=ex['spent_seconds'] or 0)} business time spent, "
        f"{timedelta(seconds=ex['paused_seconds'])} paused. Deadline {ex['deadline']}; "
        f"{to_text} at {ex['acted_at']} ({ex['lag_ms']} ms later)."
    )


def _enqueue_after_commit(task_name: str, **kwargs: Any) -> None:
    """Queue a task after commit; a broker outage is logged, never raised: the
    database keeps what must be sent and the periodic flushes resend it."""
    from .. import tasks

    task = getattr(tasks, task_name)

    def send() -> None:
        try:
            task.delay(**kwargs)
        except Exception:
            logger.warning("could not queue %s; the periodic flush will retry", task_name)

    transaction.on_commit(send)


def _events_notify_task(event_ids: list[int]) -> None:
    from .. import tasks

    tasks.events_notify.delay(event_ids=event_ids)


def _notify_in_app(*, ticket: Ticket, event: TicketEvent, users: Iterable, text: str) -> None:
    bells_store([bell(ticket=ticket, event=event, users=users, text=text)])


def _responsible_users(ticket: Ticket, tier_agents: dict[int, list]) -> list:
    """Who hears of a warning: the assignee/owner, else every agent of the tier."""
    users = [u for u in (ticket.assignee, ticket.owner) if u is not None]
    if users:
        return users
    if ticket.tier not in tier_agents:
        tier_agents[ticket.tier] = [p.user for p in agents_of_tier(tier=min(ticket.tier, 3))]
    return tier_agents[ticket.tier]

"""Customer SLA checkpoints: warnings and breaches the sweep fires."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext as _

from tickets.models import Ticket, TicketEvent
from tickets.services.events import (
    ticket_event_create,
    tickets_update,
)
from tickets.services.notify import (
    Bell,
    bell,
    bells_store,
)

from ..clock import sla_points
from ..selectors import (
    sla_policy_for,
)
from .common import TIMER, SweepReport, _enqueue_after_commit, _responsible_users

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    User = AbstractBaseUser

logger = logging.getLogger("tiers.services")

Kind = TicketEvent.Kind
Status = Ticket.Status

# ---------------------------------------------------------------------------
# Customer SLA checkpoints
# ---------------------------------------------------------------------------


def sla_clock_label(clock: str) -> str:
    return _("first response") if clock == "first_response" else _("resolution")


def sla_event(*, kind: str, clock: str, due: datetime, now: datetime, key: str) -> dict[str, Any]:
    """The SLA_WARNING or SLA_BREACH (``kind`` "breach") event's arguments."""
    label = sla_clock_label(clock)
    data = {"clock": clock, "due": due.isoformat(), "acted_at": now.isoformat()}
    if kind == "breach":
        body = _("The customer's %(label)s target (%(due)s) was missed.")
        kind, data = Kind.SLA_BREACH, {**data, "reason": "target_missed"}
    else:
        body = _("The customer's %(label)s target is due at %(due)s.")
        kind = Kind.SLA_WARNING
    return {
        "kind": kind,
        "actor_name": TIMER,
        "body": body % {"label": label, "due": due.isoformat()},
        "data": data,
        "dedupe_key": key,
    }


def sla_checkpoints(ticket: Ticket, *, now: datetime) -> list[tuple[datetime, str, str, datetime]]:
    """The customer-SLA checkpoints of a ticket as ``(at, kind, clock, due)``.

    How ``sla_warn_at`` moves: it always holds the earliest checkpoint still ahead.
    The checkpoints, from the ticket's SLA targets (set by ``clock.sla_start``):

    * first response (only while nobody has answered): a *warning* when
      ``warn_at_percent`` of the first-response target has passed since the ticket was
      opened, and a *breach* at ``first_response_due``;
    * resolution: a *warning* at ``warn_at_percent`` of the resolution target, and a
      *breach* at ``resolution_due``.

    When ``sla_warn_at`` comes due, the sweep writes an event for every checkpoint that
    has passed (a warning is skipped once its own breach has passed too), each with a
    dedupe key naming the clock, the kind and the due time, so each fires once even
    after a reopen; the first breach sets ``sla_breached_at``. Then ``sla_warn_at``
    moves to the next checkpoint in the future, or NULL when none is left.
    """
    # Inside the sweep the policies memo is pinned: no query, no cache round trip.
    policy, calendar = sla_policy_for(priority=ticket.priority)
    return sla_points(ticket, now=now, policy=policy, calendar=calendar)


def _fire_sla_checkpoints(*, now: datetime, batch: int, report: SweepReport) -> None:
    tier_agents: dict[int, list] = {}
    while True:
        with transaction.atomic():
            tickets = list(
                Ticket.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
                .select_related("assignee", "owner")
                .filter(sla_warn_at__lte=now, status__in=Ticket.ACTIVE_STATUSES)
                .order_by("sla_warn_at", "pk")[:batch]
            )
            bells: list[Bell] = []
            for ticket in tickets:
                _sla_checkpoint(
                    ticket, now=now, report=report, tier_agents=tier_agents, bells=bells
                )
            bells_store(bells)
        if len(tickets) < batch:
            return


def _sla_checkpoint(
    ticket: Ticket,
    *,
    now: datetime,
    report: SweepReport,
    tier_agents: dict[int, list],
    bells: list[Bell],
) -> None:
    """Fire a ticket's passed checkpoints; its bells join ``bells`` (stored per batch)."""
    points = sla_checkpoints(ticket, now=now)
    passed = [p for p in points if p[0] <= now]
    breached_clocks = {clock for _at, kind, clock, _due in passed if kind == "breach"}
    wanted = {
        f"sla:{clock}:{kind}:{ticket.pk}:{due.isoformat()}": (kind, clock, due)
        for _at, kind, clock, due in passed
        if kind == "breach" or clock not in breached_clocks
    }
    done = set(
        TicketEvent.objects.filter(dedupe_key__in=wanted).values_list("dedupe_key", flat=True)
    )
    fields = ["sla_warn_at"]
    for key, (kind, clock, due) in wanted.items():
        if key in done:
            continue
        label = sla_clock_label(clock)
        event = ticket_event_create(
            ticket=ticket, **sla_event(kind=kind, clock=clock, due=due, now=now, key=key)
        )
        if kind == "breach":
            if ticket.sla_breached_at is None:
                ticket.sla_breached_at = now
                fields.append("sla_breached_at")
            _enqueue_after_commit("escalation_alert_send", event_id=event.pk)
            report.sla_breaches.append((ticket.reference, clock))
        else:
            report.sla_warnings.append((ticket.reference, clock))
        bells.append(
            bell(
                ticket=ticket,
                event=event,
                users=_responsible_users(ticket, tier_agents),
                text=f"{ticket.reference}: {event.get_kind_display()} ({label}) — {ticket.subject}",
            )
        )
    ticket.sla_warn_at = min((p[0] for p in points if p[0] > now), default=None)
    tickets_update([ticket.pk], **{f: getattr(ticket, f) for f in fields})

"""The clocks of a ticket's last days: reminders, auto-resolve and auto-close.

* A ticket **waiting on the customer** for ``pending_reminder_days`` gets one reminder
  per wait (a public event the customer is e-mailed about); after
  ``pending_autoresolve_days`` without an answer it is resolved, and the customer is
  told they can still reply or reopen.
* A **resolved** ticket closes ``autoclose_days`` after its resolution; the customer is
  told. A reopened ticket is no longer resolved, so it is not closed.

The days are ``LifecyclePolicy`` (one row, on the manager pages; the ``TICKET_*``
settings are its first values).

Days are calendar days: these are promises to the customer about when the desk stops
waiting, not working-time budgets. 0 turns a clock off. Each step runs through the
ticket services (row lock, event, outbox), in batches that skip rows another worker
holds, so two beats or a slow worker never act twice: the reminder's dedupe key names
the wait it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..models import LifecyclePolicy, Ticket, TicketEvent
from . import core

Status = Ticket.Status
Kind = TicketEvent.Kind
BATCH = 200


@dataclass
class LifecycleReport:
    reminded: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)


def _days(n: int) -> str:
    return ngettext("%(n)d day", "%(n)d days", n) % {"n": n}


def _due(queryset, *, limit: int) -> list[Ticket]:
    return list(
        queryset.select_for_update(skip_locked=True, no_key=True, of=("self",))
        .select_related("category")
        .order_by("pk")[:limit]
    )


def remind_pending(
    *, now: datetime, days: int, report: LifecycleReport, autoresolve: int = 0
) -> None:
    """One reminder per wait on the customer, ``days`` after the wait began."""
    if days <= 0:
        return
    cutoff = now - timedelta(days=days)
    while True:
        with transaction.atomic():
            reminded = TicketEvent.objects.filter(
                ticket=OuterRef("pk"), kind=Kind.REMINDER, created_at__gte=OuterRef("pending_since")
            )
            tickets = _due(
                Ticket.objects.filter(
                    ~Exists(reminded), status=Status.PENDING_CUSTOMER, pending_since__lte=cutoff
                ),
                limit=BATCH,
            )
            for ticket in tickets:
                _remind(ticket, days=days, autoresolve=autoresolve, report=report)
        if len(tickets) < BATCH:
            return


def _remind(ticket: Ticket, *, days: int, autoresolve: int, report: LifecycleReport) -> None:
    # The batch query left out waits already reminded; the key makes a second reminder
    # for one wait impossible even so.
    key = f"pending-reminder:{ticket.pk}:{ticket.pending_since.isoformat()}"
    body = _("We are still waiting for your answer on this ticket: please reply so we can go on.")
    if autoresolve > days:
        body += " " + _(
            "If we do not hear from you within %(left)s, we will resolve it; you can "
            "reopen it after that."
        ) % {"left": _days(autoresolve - days)}
    core.ticket_event_create(
        ticket=ticket,
        kind=Kind.REMINDER,
        actor_name="system",
        body=body,
        is_public=True,
        data={"waiting_since": ticket.pending_since.isoformat(), "after_days": days},
        dedupe_key=key,
        notify=True,
    )
    report.reminded.append(ticket.reference)


def resolve_unanswered(*, now: datetime, days: int, report: LifecycleReport) -> None:
    """Resolve tickets whose customer has not answered for ``days``; nobody on staff
    is credited and it is no first-contact resolution."""
    if days <= 0:
        return
    cutoff = now - timedelta(days=days)
    while True:
        with transaction.atomic():
            tickets = _due(
                Ticket.objects.filter(status=Status.PENDING_CUSTOMER, pending_since__lte=cutoff),
                limit=BATCH,
            )
            for ticket in tickets:
                resolution = _(
                    "We did not hear back from you for %(days)s, so we resolved this ticket. "
                    "If the problem is still there, reply or reopen it."
                ) % {"days": _days(days)}
                waiting_since = ticket.pending_since
                core._resolve(
                    ticket,
                    resolution=resolution,
                    resolved_by=None,
                    first_contact=False,
                    now=now,
                    fields=[],
                )
                core.ticket_event_create(
                    ticket=ticket,
                    kind=Kind.RESOLVED,
                    actor_name="system",
                    body=resolution,
                    is_public=True,
                    data={
                        "tier": ticket.tier,
                        "reason": "no_customer_answer",
                        "waiting_since": waiting_since.isoformat(),
                        "after_days": days,
                        "first_contact": False,
                    },
                    notify=True,
                )
                report.resolved.append(ticket.reference)
        if len(tickets) < BATCH:
            return


def close_resolved(*, now: datetime, days: int, report: LifecycleReport) -> None:
    """Close tickets resolved ``days`` ago or more; the customer is told."""
    if days <= 0:
        return
    cutoff = now - timedelta(days=days)
    while True:
        with transaction.atomic():
            tickets = _due(
                Ticket.objects.filter(status=Status.RESOLVED, resolved_at__lte=cutoff),
                limit=BATCH,
            )
            for ticket in tickets:
                core.ticket_close(
                    ticket=ticket,
                    actor=None,
                    reason=_(
                        "Closed automatically %(days)s after it was resolved. If the "
                        "problem comes back, submit a new ticket."
                    )
                    % {"days": _days(days)},
                    notify=True,
                )
                report.closed.append(ticket.reference)
        if len(tickets) < BATCH:
            return


def lifecycle_sweep(*, now: datetime | None = None) -> LifecycleReport:
    """Run the three clocks (the Celery beat calls this every few minutes)."""
    now = now or timezone.now()
    report = LifecycleReport()
    policy = LifecyclePolicy.current()
    # Resolve before reminding: a ticket past both thresholds (the sweep was down for
    # days) is resolved once, not reminded a moment before.
    resolve_unanswered(now=now, days=policy.pending_autoresolve_days, report=report)
    remind_pending(
        now=now, days=policy.pending_reminder_days, report=report,
        autoresolve=policy.pending_autoresolve_days,
    )  # fmt: skip
    close_resolved(now=now, days=policy.autoclose_days, report=report)
    return report

"""Alerts that leave the building: vendor follow-up, manager alerts, chase mails, batch notifications."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tickets.models import Ticket, TicketEvent
from tickets.services.events import (
    ticket_event_create,
)
from tickets.services.notify import (
    send_templated_mail,
    thread_headers,
    ticket_event_send,
)

from ..models import VendorHandoff
from ..selectors import (
    managers,
)
from ..tokens import vendor_link_path
from .common import ALERT_KINDS, TIMER, VENDOR_CHASE_AT, _enqueue_after_commit, _notify_in_app

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    User = AbstractBaseUser

logger = logging.getLogger("tiers.services")

Kind = TicketEvent.Kind
Status = Ticket.Status

# ---------------------------------------------------------------------------
# Vendor follow-up: chase reminders, overdue alerts, lost alerts
# ---------------------------------------------------------------------------


@dataclass
class FollowupReport:
    chased: list[str] = field(default_factory=list)
    overdue: list[str] = field(default_factory=list)
    alerts_resent: int = 0

    def lines(self) -> list[str]:
        return [f"Reminded the vendor of {ref}" for ref in self.chased] + [
            f"Vendor overdue on {ref}: managers alerted" for ref in self.overdue
        ]


def vendor_followup_sweep(*, now: datetime | None = None) -> FollowupReport:
    """Remind vendors before their response target passes (once, at 75% of the window)
    and alert the managers once when a vendor misses its response or resolution target."""
    now = now or timezone.now()
    report = FollowupReport()
    open_handoffs = VendorHandoff.objects.filter(revoked_at__isnull=True, done_at__isnull=True)
    with transaction.atomic():
        for handoff in (
            open_handoffs.select_for_update(skip_locked=True, of=("self",))
            .select_related("vendor", "ticket")
            .filter(first_response_at__isnull=True, chased_at__isnull=True, respond_by__gt=now)
        ):
            window = handoff.respond_by - handoff.created_at
            if now < handoff.created_at + window * VENDOR_CHASE_AT:
                continue
            handoff.chased_at = now
            handoff.save(update_fields=["chased_at", "updated_at"])
            report.chased.append(handoff.ticket.reference)
            _enqueue_after_commit("vendor_chase_send", handoff_id=handoff.pk)
    with transaction.atomic():
        for handoff in (
            open_handoffs.select_for_update(skip_locked=True, of=("self",))
            .select_related("vendor", "ticket")
            .filter(overdue_alerted_at__isnull=True)
            .filter(Q(first_response_at__isnull=True, respond_by__lte=now) | Q(resolve_by__lte=now))
        ):
            missed = "response" if handoff.first_response_at is None else "resolution"
            due = handoff.respond_by if missed == "response" else handoff.resolve_by
            handoff.overdue_alerted_at = now
            handoff.save(update_fields=["overdue_alerted_at", "updated_at"])
            event = ticket_event_create(
                ticket=handoff.ticket,
                kind=Kind.VENDOR_OVERDUE,
                actor_name=TIMER,
                body=_("%(vendor)s missed its %(what)s target (%(due)s).")
                % {"vendor": handoff.vendor.company, "what": missed, "due": due.isoformat()},
                data={"handoff_id": handoff.pk, "missed": missed, "due": due.isoformat()},
                dedupe_key=f"vendor-overdue:{handoff.pk}",
            )
            _enqueue_after_commit("escalation_alert_send", event_id=event.pk)
            report.overdue.append(handoff.ticket.reference)
    for event_id in alerts_pending_ids(now=now):
        report.alerts_resent += escalation_alert_send(event_id=event_id)
    return report


def alerts_pending_ids(
    *, now: datetime, older_than: timedelta = timedelta(seconds=30)
) -> list[int]:
    """Alert events whose send task never ran (broker down when they were written)."""
    return list(
        TicketEvent.objects.filter(
            kind__in=ALERT_KINDS,
            notified_at__isnull=True,
            created_at__lte=now - older_than,
            created_at__gte=now - timedelta(days=7),
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:200]
    )


def _vendor_mail_context(handoff: VendorHandoff) -> dict[str, Any]:
    return {
        "handoff": handoff,
        "vendor": handoff.vendor,
        "ticket": handoff.ticket,
        "link": settings.SITE_URL + vendor_link_path(handoff),
        "owner": handoff.owner,
    }


def escalation_alert_send(*, event_id: int) -> int:
    """Send the e-mail of a vendor hand-off or a manager alert, at most once."""
    with transaction.atomic():
        event = (
            TicketEvent.objects.select_for_update(of=("self",))
            .select_related("ticket", "ticket__category")
            .filter(pk=event_id, kind__in=ALERT_KINDS)
            .first()
        )
        if event is None or event.notified_at is not None:
            return 0
        ticket = event.ticket
        sent = 0
        if event.kind == Kind.VENDOR_HANDOFF:
            handoff = (
                VendorHandoff.objects.select_related("vendor", "owner", "ticket")
                .filter(pk=event.data.get("handoff_id"))
                .first()
            )
            if handoff is not None and handoff.revoked_at is None:
                send_templated_mail(
                    to=[handoff.vendor.email],
                    subject=f"[{ticket.reference}] Hand-off from Tierdesk: {ticket.subject}",
                    template="vendor_handoff",
                    context=_vendor_mail_context(handoff),
                    # The vendor's reply comes back as a vendor update (emailchannel).
                    headers=thread_headers(audience="v", object_id=handoff.pk),
                )
                _notify_in_app(
                    ticket=ticket,
                    event=event,
                    users=[handoff.owner],
                    text=f"{ticket.reference}: handed to {handoff.vendor.company}; you stay accountable",
                )
                sent = 1
        else:
            staff = [p.user for p in managers()]
            emails = sorted(
                {u.email for u in staff if u.email} | set(settings.MANAGER_ALERT_EMAILS)
            )
            send_templated_mail(
                to=emails,
                subject=f"[{ticket.reference}] {event.get_kind_display()}: {ticket.subject}",
                template="manager_alert",
                context={
                    "event": event,
                    "ticket": ticket,
                    "agent_url": settings.SITE_URL + ticket.get_absolute_url(),
                },
                headers=thread_headers(
                    audience="s", object_id=ticket.pk, event_id=event.pk, auto="auto-generated"
                ),
            )
            _notify_in_app(
                ticket=ticket,
                event=event,
                users=staff,
                text=f"{ticket.reference}: {event.get_kind_display()} — {ticket.subject}",
            )
            sent = len(emails)
        event.notified_at = timezone.now()
        event.save(update_fields=["notified_at"])
        return sent


def vendor_chase_send(*, handoff_id: int) -> int:
    handoff = (
        VendorHandoff.objects.select_related("vendor", "owner", "ticket")
        .filter(pk=handoff_id, revoked_at__isnull=True, done_at__isnull=True)
        .first()
    )
    if handoff is None or handoff.first_response_at is not None:
        return 0
    ticket = handoff.ticket
    send_templated_mail(
        to=[handoff.vendor.email],
        subject=f"[{ticket.reference}] Reminder: response due {handoff.respond_by:%Y-%m-%d %H:%M} UTC",
        template="vendor_chase",
        context=_vendor_mail_context(handoff),
        headers=thread_headers(
            audience="v", object_id=handoff.pk, event_id=handoff.pk, auto="auto-generated"
        ),
    )
    return 1


def events_notify(
    *, event_ids: Sequence[int], time_budget: float | None = None
) -> tuple[int, list[int]]:
    """Send the notifications of a batch of timer events (one task per sweep batch).

    With ``time_budget`` (seconds) it stops when the budget is spent and returns the
    ids still to send, so the task can queue them again: a worker process is never held
    for long by e-mail while an escalation sweep waits for it.
    """
    started = time.monotonic()
    sent = 0
    ids = list(event_ids)
    for index, pk in enumerate(ids):
        if time_budget is not None and index and time.monotonic() - started > time_budget:
            return sent, ids[index:]
        sent += ticket_event_send(event_id=pk)
    return sent, []

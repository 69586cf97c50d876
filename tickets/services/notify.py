"""Who hears about an event, and the sending itself (run by a task after commit)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from tiers.models import CUSTOMER_TIER_NAMES
from tiers.selectors import agents_of_tier, managers

from ..models import Notification, TicketEvent
from ..versions import bump_notifications

logger = logging.getLogger(__name__)
Kind = TicketEvent.Kind

#: Public events the customer is e-mailed about (their own replies are not echoed).
CUSTOMER_KINDS = {Kind.CREATED, Kind.REPLY, Kind.STATUS, Kind.RESOLVED, Kind.REOPENED}
#: Events that put a ticket in front of a tier's agents.
TIER_KINDS = {Kind.ESCALATED, Kind.PROMOTED, Kind.DEESCALATED, Kind.BOUNCED}


def send_templated_mail(*, to: list[str], subject: str, template: str, context: dict) -> None:
    """E-mail ``emails/<template>.txt`` with its ``.html`` twin; nothing when ``to`` is empty."""
    if not to:
        return
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=to
    )
    message.attach_alternative(html, "text/html")
    message.send()


def _staff_recipients(event: TicketEvent) -> list:
    ticket = event.ticket
    if event.kind in TIER_KINDS:
        return [p.user for p in agents_of_tier(tier=ticket.tier) if p.user_id != event.actor_id]
    if event.kind == Kind.ESCALATION_REQUESTED:
        # The customer asks for attention: the tier holding the ticket and the managers.
        users = {p.user_id: p.user for p in [*agents_of_tier(tier=ticket.tier), *managers()]}
        extra = {ticket.assignee_id, ticket.owner_id} - {None, *users}
        users.update({u.pk: u for u in get_user_model().objects.filter(pk__in=extra)})
        return [u for pk, u in users.items() if pk != event.actor_id]
    if event.kind in (Kind.CUSTOMER_REPLY, Kind.ASSIGNED):
        user_ids = {ticket.assignee_id, ticket.owner_id} - {None, event.actor_id}
        return list(get_user_model().objects.filter(pk__in=user_ids))
    return []


#: The columns ticket_event_send and the ticket_event_* e-mail templates read. A field
#: left out would cost a query per e-mail (tests/tickets/test_notify_cost.py counts
#: them and compares the e-mails with ones rendered from fully loaded rows).
_SEND_FIELDS = (
    "id", "ticket_id", "kind", "actor_id", "actor_name", "body", "is_public", "data",
    "notify", "notified_at",
    "ticket__id", "ticket__reference", "ticket__tracking_token", "ticket__subject",
    "ticket__requester_name", "ticket__requester_email", "ticket__first_response_due",
    "ticket__tier", "ticket__status", "ticket__priority", "ticket__assignee_id",
    "ticket__owner_id",
    "actor__id", "actor__username", "actor__first_name",
)  # fmt: skip


def ticket_event_send(*, event_id: int) -> int:
    """Send the notifications of one event, at most once. Returns how many went out."""
    with transaction.atomic():
        # Only what the e-mails and the recipient rules read (every field of the
        # ticket, its category and the actor's user row cost more to compile and
        # build than the row lock itself), and not the model's ordering: one row by its key.
        event = (
            TicketEvent.objects.select_for_update(of=("self",))
            .select_related("ticket", "actor")
            .only(*_SEND_FIELDS)
            .filter(pk=event_id)
            .order_by()
            .first()
        )
        if event is None or event.notified_at is not None or not event.notify:
            return 0  # gone, or already sent by a retry or the outbox flush
        ticket = event.ticket
        sent = 0
        base = {
            "event": event,
            "ticket": ticket,
            "site_url": settings.SITE_URL,
            "tier_name": CUSTOMER_TIER_NAMES.get(ticket.tier, ""),
        }
        if event.is_public and event.kind in CUSTOMER_KINDS and ticket.requester_email:
            send_templated_mail(
                to=[ticket.requester_email],
                subject=f"[{ticket.reference}] {ticket.subject}",
                template="ticket_event_customer",
                context={**base, "tracking_url": settings.SITE_URL + ticket.get_tracking_url()},
            )
            sent += 1
        staff = _staff_recipients(event)
        if staff:
            text = f"{ticket.reference}: {event.get_kind_display()} — {ticket.subject}"[:300]
            Notification.objects.bulk_create(
                [Notification(user=u, ticket=ticket, event=event, text=text) for u in staff]
            )
            bump_notifications(u.pk for u in staff)  # the bell count (tickets/versions.py)
            emails = [u.email for u in staff if u.email]
            send_templated_mail(
                to=emails,
                subject=f"[{ticket.reference}] {event.get_kind_display()}: {ticket.subject}",
                template="ticket_event_staff",
                context={**base, "agent_url": settings.SITE_URL + ticket.get_absolute_url()},
            )
            sent += len(staff)
        event.notified_at = timezone.now()
        event.save(update_fields=["notified_at"])
        return sent


def outbox_pending_ids(
    *, older_than: timedelta = timedelta(seconds=30), limit: int = 500
) -> list[int]:
    """Events whose notification task never ran (broker down at the time)."""
    cutoff = timezone.now() - older_than
    return list(
        TicketEvent.objects.filter(notify=True, notified_at__isnull=True, created_at__lte=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )

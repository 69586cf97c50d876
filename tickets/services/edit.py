"""Edit and re-route a ticket: subject, category, requester. Every change is an event.

A new **category** re-routes the ticket when nobody has escalated it yet and it still
sits in the old category's entry tier: it moves to the new category's entry tier with
a fresh budget (as it would have started there had the customer chosen right). A
ticket that has climbed keeps its tier: the tiers above know why it is there.

A new **requester** gets a new tracking link and the old one stops working, so the
person who is no longer the requester cannot keep reading the conversation; the new
requester is e-mailed the link by the notification of the edit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Category, Ticket, TicketEvent, new_tracking_token
from . import core
from .core import TicketError, ticket_enter_tier
from .events import ticket_event_create

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser as User

Kind = TicketEvent.Kind


@transaction.atomic
def ticket_edit(
    *,
    ticket: Ticket,
    actor: User,
    subject: str | None = None,
    category: Category | None = None,
    requester_name: str | None = None,
    requester_email: str | None = None,
) -> list[TicketEvent]:
    """Change what is given (``None``: leave as it is); one EDITED event per field that
    changed. Nothing is written when nothing changed."""
    ticket = core.ticket_lock(ticket)
    core._require_agent(user=actor, ticket=ticket)
    core._require_active(ticket)
    now = timezone.now()
    fields: list[str] = ["updated_at"]
    events: list[TicketEvent] = []

    def record(field: str, old: Any, new: Any, *, tell_requester: bool = False, **extra: Any):
        # Staff-only, but for a new requester: they are e-mailed their ticket's link
        # (the portal's allow-list keeps the event itself off the tracking page).
        events.append(
            ticket_event_create(
                ticket=ticket,
                kind=Kind.EDITED,
                actor=actor,
                is_public=tell_requester,
                data={"field": field, "from": old, "to": new, **extra},
                notify=tell_requester,
            )
        )

    if subject is not None:
        subject = subject.strip()
        if not subject:
            raise TicketError(_("A ticket needs a subject."), field="subject")
        if len(subject) > Ticket._meta.get_field("subject").max_length:
            raise TicketError(
                _("The subject is too long (200 characters at most)."), field="subject"
            )
        if subject != ticket.subject:
            old = ticket.subject
            ticket.subject = subject
            fields.append("subject")
            record("subject", old, subject)

    if category is not None and category.pk != ticket.category_id:
        if not category.is_active:
            raise TicketError(_("That category is no longer offered."), field="category")
        old_category = ticket.category
        ticket.category = category
        fields.append("category")
        extra: dict[str, Any] = {}
        rerouted = (
            ticket.escalation_count == 0
            and ticket.tier == old_category.entry_tier
            and category.entry_tier != ticket.tier
        )
        if rerouted:
            extra = {"tier": [ticket.tier, category.entry_tier]}
            fields += ticket_enter_tier(ticket, tier=category.entry_tier, now=now)
        record("category", old_category.name, category.name, **extra)

    if requester_email is not None or requester_name is not None:
        _change_requester(ticket, requester_name, requester_email, fields, record)

    if len(fields) > 1:
        ticket.save(update_fields=sorted(set(fields)))
    return events


def _change_requester(ticket: Ticket, name: str | None, email: str | None, fields, record) -> None:
    email = (email if email is not None else ticket.requester_email).strip().lower()
    name = (name if name is not None else ticket.requester_name).strip()
    try:
        validate_email(email)
    except ValidationError:
        raise TicketError(_("Enter a valid e-mail address."), field="requester_email") from None
    if not name:
        raise TicketError(_("Give the requester's name."), field="requester_name")
    if email == ticket.requester_email.lower() and name == ticket.requester_name:
        return
    old = f"{ticket.requester_name} <{ticket.requester_email}>"
    moved = email != ticket.requester_email.lower()
    ticket.requester_name = name
    fields.append("requester_name")
    if moved:
        ticket.requester_email = email
        ticket.requester = (
            get_user_model()
            .objects.filter(email__iexact=email, is_active=True)
            .order_by("pk")
            .first()
        )
        ticket.tracking_token = new_tracking_token()
        fields += ["requester_email", "requester", "tracking_token"]
    record("requester", old, f"{name} <{email}>", new_link=moved, tell_requester=moved)

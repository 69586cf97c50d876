"""Tier 4: the vendor hand-off, its revocation, and what the vendor posts."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.exceptions import ConflictError, ForbiddenError
from tickets.models import Ticket, TicketEvent
from tickets.selectors import user_can_act_on
from tickets.services.attachments import attachment_add, validate_uploads
from tickets.services.core import ticket_enter_tier
from tickets.services.events import (
    CasRow,
    ticket_event_create,
    tickets_compare_and_set,
)

from .. import clock
from ..business_time import add_business_time
from ..models import VendorContact, VendorHandoff
from ..selectors import (
    agent_profile_of,
    calendar_default,
    managers,
    user_is_manager,
    vendor_for_category,
)
from ..tokens import new_nonce
from .common import (
    TIMER,
    EscalationError,
    _CompareAndSetMissed,
    _enqueue_after_commit,
    _explain_text,
    _iso,
    _notify_in_app,
    _seconds,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.core.files.uploadedfile import UploadedFile

    User = AbstractBaseUser

logger = logging.getLogger("tiers.services")

Kind = TicketEvent.Kind
Status = Ticket.Status

# ---------------------------------------------------------------------------
# Tier 4: vendor hand-off
# ---------------------------------------------------------------------------


def _accountable_owner(ticket: Ticket, actor: User | None) -> User | None:
    """The Tier 3 person who stays accountable: the acting Tier 3 agent or manager, else
    the last Tier 3 assignee, else a manager."""
    for candidate in (actor, ticket.assignee):
        profile = agent_profile_of(candidate) if candidate is not None else None
        if profile is not None and (profile.tier >= 3 or profile.is_manager):
            return candidate
    usernames = [
        e.data.get("assignee")
        for e in ticket.events.filter(kind=Kind.ASSIGNED).order_by("-created_at", "-id")[:20]
        if isinstance(e.data, dict) and e.data.get("assignee")
    ]
    if usernames:
        users = {
            u.get_username(): u
            for u in get_user_model().objects.filter(
                username__in=usernames,
                agent_profile__is_active=True,
                agent_profile__tier__gte=3,
            )
        }
        for name in usernames:
            if name in users:
                return users[name]
    first_manager = managers().order_by("id").first()
    return first_manager.user if first_manager else None


def _write_handoff_ticket(ticket: Ticket, *, fields: Sequence[str], cas: CasRow | None) -> None:
    """Save ``fields`` of a locked ticket: by compare-and-set for the timer (``cas``:
    what it read; raises when the row moved), a plain save for a person."""
    if cas is None:
        ticket.save(update_fields=sorted(set(fields)))
    elif not tickets_compare_and_set([cas], fields=sorted(set(fields))):
        raise _CompareAndSetMissed


def _flag_no_vendor(
    ticket: Ticket,
    *,
    actor: User | None,
    now: datetime,
    dedupe_key: str,
    explain: dict[str, Any] | None,
    cas: CasRow | None,
) -> TicketEvent | None:
    """No vendor covers the category: flag the ticket as breached and alert managers."""
    if TicketEvent.objects.filter(dedupe_key=dedupe_key).exists():
        return None
    fields = ["updated_at"]
    if ticket.sla_breached_at is None:
        ticket.sla_breached_at = now
        fields.append("sla_breached_at")
    if cas is not None:
        # The timer stops here: a person has to decide; leaving the deadline in the
        # past would re-alert every second.
        clock.clock_stop(ticket)
        fields.extend(clock.CLOCK_FIELDS)
        ticket.updated_at = now
    _write_handoff_ticket(ticket, fields=fields, cas=cas)
    event = ticket_event_create(
        ticket=ticket,
        kind=Kind.SLA_BREACH,
        actor=actor,
        actor_name="" if actor else TIMER,
        body=_(
            "No vendor covers the category %(category)s, so the ticket cannot go to Tier 4. "
            "Flagged as breached; the managers have been alerted."
        )
        % {"category": ticket.category.name},
        data={"reason": "no_vendor", "category_id": ticket.category_id, **(explain or {})},
        dedupe_key=dedupe_key,
    )
    _enqueue_after_commit("escalation_alert_send", event_id=event.pk)
    return event


def _handoff_locked(
    ticket: Ticket,
    *,
    actor: User | None,
    summary: str,
    vendor: VendorContact | None,
    now: datetime,
    dedupe_key: str | None,
    explain: dict[str, Any] | None = None,
    cas: CasRow | None = None,
) -> VendorHandoff | None:
    """Hand a locked Tier 3 ticket to a vendor. With ``cas`` (the timer's read) the
    ticket row is written by compare-and-set. Returns ``None`` when no vendor covers it."""
    vendor = vendor or vendor_for_category(category_id=ticket.category_id)
    if vendor is None:
        _flag_no_vendor(
            ticket,
            actor=actor,
            now=now,
            explain=explain,
            cas=cas,
            dedupe_key=dedupe_key or f"novendor:{ticket.pk}:{_iso(ticket.tier_entered_at)}",
        )
        return None
    owner = _accountable_owner(ticket, actor)
    calendar = calendar_default()
    handoff = VendorHandoff.objects.create(
        ticket=ticket,
        vendor=vendor,
        owner=owner,
        nonce=new_nonce(),
        summary=summary.strip(),
        expires_at=now + timedelta(days=settings.VENDOR_LINK_MAX_AGE_DAYS),
        respond_by=add_business_time(calendar, now, vendor.response_target),
        resolve_by=add_business_time(calendar, now, vendor.resolution_target),
    )
    from_tier = ticket.tier
    fields = ticket_enter_tier(ticket, tier=4, now=now)
    ticket.status = Status.PENDING_VENDOR
    ticket.owner = owner
    ticket.escalation_count += 1
    ticket.updated_at = now
    fields = [*fields, "status", "owner", "escalation_count"]
    _write_handoff_ticket(ticket, fields=fields, cas=cas)
    event = ticket_event_create(
        ticket=ticket,
        kind=Kind.VENDOR_HANDOFF,
        actor=actor,
        actor_name="" if actor else TIMER,
        body=(
            _explain_text(from_tier, f"handed to {vendor.company}", explain) + "\n\n"
            if explain
            else ""
        )
        + summary.strip(),
        data={
            "from_tier": from_tier,
            "to_tier": 4,
            "handoff_id": handoff.pk,
            "vendor": f"{vendor.name} ({vendor.company})",
            "vendor_id": vendor.pk,
            "owner": owner.get_username() if owner else None,
            "respond_by": handoff.respond_by.isoformat(),
            "resolve_by": handoff.resolve_by.isoformat(),
            "manual": actor is not None,
            **(explain or {}),
        },
        dedupe_key=dedupe_key,
    )
    _enqueue_after_commit("escalation_alert_send", event_id=event.pk)
    return handoff


def _require_tier3_or_manager(*, user: User, ticket: Ticket) -> None:
    profile = agent_profile_of(user)
    allowed = user_is_manager(user) or (
        profile is not None and profile.tier >= 3 and user_can_act_on(user=user, ticket=ticket)
    )
    if not allowed:
        raise ForbiddenError(_("Only Tier 3 agents and managers hand tickets to a vendor."))


def vendor_handoff(
    *, ticket: Ticket, actor: User, summary: str, vendor: VendorContact | None = None
) -> VendorHandoff:
    """A Tier 3 agent (or manager) hands the ticket to the vendor covering its category.

    The ticket goes to Tier 4 / ``pending_vendor`` with ``actor`` (or the last Tier 3
    assignee) as accountable owner; the vendor is e-mailed a signed link after commit.
    With no covering vendor the ticket is flagged as breached, the managers are alerted,
    and ``EscalationError`` tells the agent so.
    """
    _require_tier3_or_manager(user=actor, ticket=ticket)
    if not (summary or "").strip():
        raise EscalationError(_("Write a hand-off summary for the vendor."), field="summary")
    if len(summary) > 10000:
        raise EscalationError(_("Keep the summary under 10,000 characters."), field="summary")
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update(no_key=True, of=("self",))
            .select_related("category", "assignee")
            .get(pk=ticket.pk)
        )
        if ticket.status in Ticket.DONE_STATUSES:
            raise EscalationError(_("%(ref)s is already resolved.") % {"ref": ticket.reference})
        if ticket.tier == 4 or ticket.status == Status.PENDING_VENDOR:
            raise ConflictError(_("%(ref)s is already with a vendor.") % {"ref": ticket.reference})
        if ticket.tier != 3:
            raise EscalationError(_("Only Tier 3 tickets are handed to a vendor."))
        handoff = _handoff_locked(
            ticket,
            actor=actor,
            summary=summary,
            vendor=vendor,
            now=timezone.now(),
            dedupe_key=None,
        )
    if handoff is None:
        raise EscalationError(
            _(
                "No vendor covers %(category)s. The ticket is flagged as breached and the "
                "managers have been alerted."
            )
            % {"category": ticket.category.name}
        )
    return handoff


def _back_to_tier3(ticket: Ticket, *, owner: User | None, now: datetime) -> list[str]:
    """The vendor's part is over: Tier 3 again, open, with the owner working it."""
    fields = ticket_enter_tier(ticket, tier=3, now=now)
    ticket.status = Status.OPEN
    ticket.assignee = owner
    return [*fields, "status", "assignee"]


def vendor_handoff_revoke(*, handoff: VendorHandoff, actor: User) -> VendorHandoff:
    """Revoke a hand-off's link (leaked, wrong vendor). A hand-off still in progress is
    withdrawn: the ticket returns to Tier 3 with its owner. Idempotent."""
    ticket = handoff.ticket
    if not (user_is_manager(actor) or handoff.owner_id == actor.pk):
        _require_tier3_or_manager(user=actor, ticket=ticket)
    with transaction.atomic():
        handoff = (
            VendorHandoff.objects.select_for_update(of=("self",))
            .select_related("vendor")
            .get(pk=handoff.pk)
        )
        if handoff.revoked_at is not None:
            return handoff
        now = timezone.now()
        handoff.revoked_at = now
        handoff.save(update_fields=["revoked_at", "updated_at"])
        ticket = Ticket.objects.select_for_update(no_key=True).get(pk=handoff.ticket_id)
        withdrawn = (
            handoff.done_at is None
            and ticket.tier == 4
            and ticket.status == Status.PENDING_VENDOR
            and not ticket.vendor_handoffs.filter(revoked_at__isnull=True, done_at__isnull=True)
            .exclude(pk=handoff.pk)
            .exists()
        )
        if withdrawn:
            fields = _back_to_tier3(ticket, owner=handoff.owner, now=now)
            ticket.save(update_fields=sorted(set(fields)))
        ticket_event_create(
            ticket=ticket,
            kind=Kind.STATUS,
            actor=actor,
            body=_("Vendor link for %(vendor)s revoked.") % {"vendor": handoff.vendor.company}
            + (" " + _("The ticket is back at Tier 3.") if withdrawn else ""),
            data={
                "handoff_id": handoff.pk,
                "handoff_revoked": True,
                "from": Status.PENDING_VENDOR if withdrawn else ticket.status,
                "to": ticket.status,
            },
        )
    return handoff


def _vendor_name(handoff: VendorHandoff) -> str:
    return f"{handoff.vendor.name} ({handoff.vendor.company})"[:120]


def _lock_open_handoff(handoff: VendorHandoff) -> tuple[VendorHandoff, Ticket]:
    handoff = (
        VendorHandoff.objects.select_for_update(of=("self",))
        .select_related("vendor", "owner")
        .get(pk=handoff.pk)
    )
    ticket = Ticket.objects.select_for_update(no_key=True).get(pk=handoff.ticket_id)
    if handoff.revoked_at is not None:
        raise ForbiddenError(_("This vendor link has been revoked."))
    if handoff.done_at is not None or ticket.status in Ticket.DONE_STATUSES:
        raise ConflictError(_("This hand-off is finished; updates are closed."))
    return handoff, ticket


def _record_vendor_response(handoff: VendorHandoff, now: datetime, fields: list[str]) -> None:
    if handoff.first_response_at is None:
        handoff.first_response_at = now
        handoff.response_time = now - handoff.created_at
        fields += ["first_response_at", "response_time"]


def vendor_post_update(
    *,
    handoff: VendorHandoff,
    body: str,
    vendor_reference: str = "",
    uploads: Sequence[UploadedFile] = (),
) -> TicketEvent:
    """The vendor posts an update (and files, and its own ticket number) on its page."""
    body = (body or "").strip()
    vendor_reference = (vendor_reference or "").strip()[:80]
    if not body and not uploads:
        raise EscalationError(_("Write an update or attach a file."), field="body")
    validate_uploads(list(uploads))  # all checked before anything is written
    with transaction.atomic():
        handoff, ticket = _lock_open_handoff(handoff)
        now = timezone.now()
        fields = ["updated_at"]
        _record_vendor_response(handoff, now, fields)
        if vendor_reference and vendor_reference != handoff.vendor_reference:
            handoff.vendor_reference = vendor_reference
            fields.append("vendor_reference")
        handoff.save(update_fields=fields)
        event = ticket_event_create(
            ticket=ticket,
            kind=Kind.VENDOR_UPDATE,
            actor_name=_vendor_name(handoff),
            body=body,
            data={"handoff_id": handoff.pk, "vendor_reference": handoff.vendor_reference},
        )
        for upload in uploads:
            attachment_add(
                ticket=ticket,
                upload=upload,
                event=event,
                uploaded_by_name=handoff.vendor.name,
                is_public=False,
            )
        _notify_in_app(
            ticket=ticket,
            event=event,
            users=[handoff.owner],
            text=f"{ticket.reference}: update from {handoff.vendor.company}",
        )
    return event


def vendor_mark_done(*, handoff: VendorHandoff, note: str = "") -> Ticket:
    """ "Mark our part done": the ticket returns to Tier 3, open, with its owner."""
    with transaction.atomic():
        handoff, ticket = _lock_open_handoff(handoff)
        now = timezone.now()
        fields = ["done_at", "resolution_time", "updated_at"]
        _record_vendor_response(handoff, now, fields)
        handoff.done_at = now
        handoff.resolution_time = now - handoff.created_at
        handoff.save(update_fields=fields)
        ticket_fields = _back_to_tier3(ticket, owner=handoff.owner, now=now)
        ticket.save(update_fields=sorted(set(ticket_fields)))
        event = ticket_event_create(
            ticket=ticket,
            kind=Kind.VENDOR_DONE,
            actor_name=_vendor_name(handoff),
            body=(note or "").strip()
            or _("%(vendor)s marked its part done.") % {"vendor": handoff.vendor.company},
            data={
                "handoff_id": handoff.pk,
                "vendor_reference": handoff.vendor_reference,
                "response_seconds": _seconds(handoff.response_time),
                "resolution_seconds": _seconds(handoff.resolution_time),
                "owner": handoff.owner.get_username() if handoff.owner else None,
            },
        )
        _notify_in_app(
            ticket=ticket,
            event=event,
            users=[handoff.owner],
            text=f"{ticket.reference}: {handoff.vendor.company} marked its part done",
        )
    return ticket


_REFERENCE_IN_SUBJECT = re.compile(r"\bTD-\d{6,}\b")


def vendor_handoff_for_reply(*, subject: str, sender: str) -> VendorHandoff | None:
    """The open hand-off a vendor's e-mail reply belongs to (``emailchannel.routing``,
    when the reply lost our signed reply address).

    Recognised by our ticket reference (``[TD-000123]``, kept in the subjects we send)
    or by the vendor's own ticket number, and only when the sender is that vendor's
    contact address: anyone else's mail is not a vendor update.
    """
    sender = (sender or "").strip().lower()
    if not sender:
        return None
    handoffs = VendorHandoff.objects.select_related("vendor", "ticket").filter(
        revoked_at__isnull=True, done_at__isnull=True, vendor__email__iexact=sender
    )
    match = _REFERENCE_IN_SUBJECT.search(subject or "")
    if match:
        found = handoffs.filter(ticket__reference=match.group(0)).order_by("-created_at").first()
        if found is not None:
            return found
    for handoff in handoffs.exclude(vendor_reference="").order_by("-created_at")[:200]:
        if re.search(rf"(?<!\w){re.escape(handoff.vendor_reference)}(?!\w)", subject or ""):
            return handoff
    return None

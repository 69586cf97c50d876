"""Every write to a ticket: one function per use case, each in a transaction, each
writing its ``TicketEvent``. Side effects (e-mail, webhooks) run after commit."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.exceptions import ConflictError, DomainError, ForbiddenError
from tiers import clock
from tiers.models import PRIORITY_RANK, Priority, TierLevel
from tiers.selectors import policies_pinned

from ..models import Category, Ticket, TicketEvent
from ..selectors import article_slugs_visible_to, user_can_act_on
from .events import (  # noqa: F401 - re-exported
    EVENT_HOOKS,
    EVENT_WRITE_HOOKS,
    ticket_event_create,
    tickets_update,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    User = AbstractBaseUser

logger = logging.getLogger(__name__)

Kind = TicketEvent.Kind
Status = Ticket.Status


class TicketError(DomainError):
    pass


def _now() -> datetime:
    return timezone.now()


def ticket_lock(ticket: Ticket) -> Ticket:
    """Re-read the ticket under a row lock; every write starts here."""
    return (
        Ticket.objects.select_for_update(no_key=True).select_related("category").get(pk=ticket.pk)
    )


def _require_agent(*, user: User, ticket: Ticket) -> None:
    if not user_can_act_on(user=user, ticket=ticket):
        raise ForbiddenError(
            _("You cannot act on %(ref)s: it is at Tier %(tier)s.")
            % {"ref": ticket.reference, "tier": ticket.tier}
        )


def _require_active(ticket: Ticket) -> None:
    if ticket.status in Ticket.DONE_STATUSES:
        raise TicketError(_("%(ref)s is already resolved.") % {"ref": ticket.reference})


# ---------------------------------------------------------------------------
# Creation
# ---------------------------------------------------------------------------


def priority_from(*, category: Category, urgency: str | None, impact: str | None) -> str:
    """Map the customer's plain-words urgency/impact to a priority (category wins)."""
    if category.default_priority:
        return category.default_priority
    score = {"low": 0, "medium": 1, "high": 2}
    total = score.get(urgency or "medium", 1) + score.get(impact or "medium", 1)
    return [Priority.LOW, Priority.NORMAL, Priority.NORMAL, Priority.HIGH, Priority.URGENT][total]


def ticket_create(
    *,
    category: Category,
    subject: str,
    description: str,
    requester_name: str,
    requester_email: str,
    requester: User | None = None,
    priority: str | None = None,
    submission_key: str | None = None,
    via: str = "web",
    data: dict[str, Any] | None = None,
) -> Ticket:
    """Open a ticket at its category's entry tier with both clocks running.

    With ``submission_key``, a second call with the same key returns the first
    ticket instead of creating another (double-submitted forms, API retries)."""
    ticket, _created = ticket_create_or_get(
        category=category,
        subject=subject,
        description=description,
        requester_name=requester_name,
        requester_email=requester_email,
        requester=requester,
        priority=priority,
        submission_key=submission_key,
        via=via,
        data=data,
    )
    return ticket


# No savepoint of its own: an error here fails the caller's transaction anyway, and a
# portal submission is one transaction with as few round trips as it can have.
@transaction.atomic(savepoint=False)
def ticket_create_or_get(
    *,
    category: Category,
    subject: str,
    description: str,
    requester_name: str,
    requester_email: str,
    requester: User | None = None,
    priority: str | None = None,
    submission_key: str | None = None,
    via: str = "web",
    data: dict[str, Any] | None = None,
) -> tuple[Ticket, bool]:
    """:func:`ticket_create`, also saying whether the ticket is new: ``(ticket, False)``
    is the earlier ticket of the same ``submission_key``, for the caller to check
    (the portal compares the e-mail address) and to add nothing to.

    The key is not looked up first: the insert is tried, and its unique index
    settles both a resubmitted form and two identical requests racing, with one
    query less on every new ticket."""
    if not category.is_active:
        raise TicketError(_("This category is no longer in use."), field="category")
    now = _now()
    ticket = Ticket(
        category=category,
        subject=subject.strip(),
        description=description,
        requester=requester,
        requester_name=requester_name.strip(),
        requester_email=requester_email.strip().lower(),
        tier=category.entry_tier,
        priority=priority or category.default_priority or Priority.NORMAL,
        status=Status.NEW,
        submission_key=submission_key or None,
    )
    with policies_pinned():  # one read of the policies version for both clocks
        clock.clock_start(ticket, now=now)
        clock.sla_start(ticket, now=now)
    # The reference derives from the id. The id is drawn from the table's sequence
    # first, so the row is inserted with its reference: the former UPDATE … SET
    # reference rewrote the new row in every index of tickets_ticket (a non-HOT
    # update, ~33 WAL records, as many as the insert itself).
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [Ticket._meta.db_table])
        ticket.pk = cursor.fetchone()[0]
    ticket.reference = Ticket.reference_for(ticket.pk)
    try:
        # A savepoint only where a key can collide: the transaction goes on after it.
        with transaction.atomic(savepoint=bool(submission_key)):
            ticket.save(force_insert=True)
    except IntegrityError:
        existing = (
            Ticket.objects.filter(submission_key=submission_key).first() if submission_key else None
        )
        if existing is None:
            raise
        return existing, False
    ticket_event_create(
        ticket=ticket,
        kind=Kind.CREATED,
        actor=requester,
        actor_name=ticket.requester_name,
        body=description,
        is_public=True,
        data={"via": via, "tier": ticket.tier, "priority": ticket.priority, **(data or {})},
        notify=True,
    )
    return ticket, True


# ---------------------------------------------------------------------------
# Assignment
# ---------------------------------------------------------------------------


@transaction.atomic
def ticket_claim(*, ticket: Ticket, agent: User) -> Ticket:
    """Take an unassigned ticket. Two agents clicking at once: one wins, the other
    gets a ``ConflictError`` naming who took it."""
    ticket = ticket_lock(ticket)
    _require_agent(user=agent, ticket=ticket)
    _require_active(ticket)
    if ticket.assignee_id == agent.pk:
        return ticket
    if ticket.assignee_id is not None:
        raise ConflictError(
            _("%(ref)s was already claimed by %(name)s.")
            % {"ref": ticket.reference, "name": ticket.assignee.get_username()}
        )
    ticket.assignee = agent
    fields = ["assignee", "updated_at"]
    if ticket.status == Status.NEW:
        ticket.status = Status.OPEN
        fields.append("status")
    ticket.save(update_fields=fields)
    ticket_event_create(
        ticket=ticket,
        kind=Kind.ASSIGNED,
        actor=agent,
        data={"assignee": agent.get_username(), "claimed": True},
    )
    return ticket


@transaction.atomic
def ticket_assign(*, ticket: Ticket, actor: User, assignee: User | None) -> Ticket:
    """Reassign (to an agent of the ticket's tier or above) or unassign (``None``).
    Only the assignee or a manager puts a claimed ticket back in the queue."""
    from tiers.selectors import agent_profile_of, user_is_manager

    ticket = ticket_lock(ticket)
    _require_agent(user=actor, ticket=ticket)
    _require_active(ticket)
    if assignee is None and ticket.assignee_id != actor.pk and not user_is_manager(actor):
        raise ForbiddenError(_("Only the assignee or a manager can unassign this ticket."))
    if assignee is not None:
        profile = agent_profile_of(assignee)
        if profile is None or (profile.tier < min(ticket.tier, 3) and not profile.is_manager):
            raise TicketError(
                _("%(name)s cannot take a Tier %(tier)s ticket.")
                % {"name": assignee.get_username(), "tier": ticket.tier},
                field="assignee",
            )
    if ticket.assignee_id == (assignee.pk if assignee else None):
        return ticket
    previous = ticket.assignee.get_username() if ticket.assignee else None
    ticket.assignee = assignee
    ticket.save(update_fields=["assignee", "updated_at"])
    ticket_event_create(
        ticket=ticket,
        kind=Kind.ASSIGNED,
        actor=actor,
        data={"assignee": assignee.get_username() if assignee else None, "previous": previous},
        notify=assignee is not None and assignee.pk != actor.pk,
    )
    return ticket


# ---------------------------------------------------------------------------
# Conversation
# ---------------------------------------------------------------------------


@transaction.atomic
def ticket_reply(
    *, ticket: Ticket, agent: User, body: str, pending_customer: bool = False
) -> TicketEvent:
    """A public reply from an agent; the customer is e-mailed. With ``pending_customer``
    the ticket waits for the customer and the tier clock pauses."""
    ticket = ticket_lock(ticket)
    _require_agent(user=agent, ticket=ticket)
    if not body.strip():
        raise TicketError(_("Write a reply first."), field="body")
    now = _now()
    fields = ["updated_at"]
    if ticket.first_response_at is None:
        ticket.first_response_at = now
        fields.append("first_response_at")
    if ticket.status == Status.NEW:
        ticket.status = Status.OPEN
        fields.append("status")
    event = ticket_event_create(
        ticket=ticket, kind=Kind.REPLY, actor=agent, body=body, is_public=True, notify=True
    )
    if pending_customer and ticket.status == Status.OPEN:
        _set_status(ticket, status=Status.PENDING_CUSTOMER, actor=agent, now=now, fields=fields)
    ticket.save(update_fields=sorted(set(fields)))
    return event


@transaction.atomic
def ticket_add_note(*, ticket: Ticket, agent: User, body: str) -> TicketEvent:
    """An internal note: never shown to the customer or the vendor."""
    ticket = ticket_lock(ticket)
    _require_agent(user=agent, ticket=ticket)
    if not body.strip():
        raise TicketError(_("Write a note first."), field="body")
    tickets_update([ticket.pk], updated_at=_now())
    return ticket_event_create(ticket=ticket, kind=Kind.NOTE, actor=agent, body=body)


@transaction.atomic
def ticket_customer_reply(
    *, ticket: Ticket, body: str, actor: User | None = None, author_name: str = ""
) -> TicketEvent:
    """The customer writes back: a waiting ticket resumes its clock; a resolved one
    reopens with a fresh budget in its current tier."""
    ticket = ticket_lock(ticket)
    if not body.strip():
        raise TicketError(_("Write a message first."), field="body")
    if ticket.status == Status.CLOSED:
        raise TicketError(
            _("%(ref)s is closed. Please open a new ticket.") % {"ref": ticket.reference}
        )
    now = _now()
    fields = ["updated_at"]
    event = ticket_event_create(
        ticket=ticket,
        kind=Kind.CUSTOMER_REPLY,
        actor=actor,
        actor_name=author_name or ticket.requester_name,
        body=body,
        is_public=True,
        notify=True,
    )
    if ticket.status == Status.PENDING_CUSTOMER:
        _set_status(ticket, status=Status.OPEN, actor=actor, now=now, fields=fields)
    elif ticket.status == Status.RESOLVED:
        _reopen(ticket, actor=actor, now=now, fields=fields, reason=_("The customer replied."))
    ticket.save(update_fields=sorted(set(fields)))
    return event


# ---------------------------------------------------------------------------
# Status and priority
# ---------------------------------------------------------------------------

#: Status changes an agent may make directly (resolve/close/vendor have their own services).
AGENT_STATUS_CHANGES = {
    Status.NEW: {Status.OPEN, Status.PENDING_CUSTOMER},
    Status.OPEN: {Status.PENDING_CUSTOMER},
    Status.PENDING_CUSTOMER: {Status.OPEN},
    Status.PENDING_VENDOR: {Status.OPEN},
}


def status_change(ticket: Ticket, *, status: str, now: datetime) -> dict[str, Any]:
    """Set ``status`` on the (locked) ticket with what waiting on the customer does to
    its clocks: both the tier budget and the customer SLA pause while it waits and
    resume after. Returns the STATUS event's data, which explains both (the agent
    timeline shows it). Shared by the services and the demo history."""
    old = ticket.status
    data: dict[str, Any] = {"from": old, "to": status}
    if status == Status.PENDING_CUSTOMER:
        clock.clock_pause(ticket, now=now)
        clock.sla_pause(ticket, now=now)
        ticket.customer_round_trips += 1
        data["clock"] = data["sla"] = "paused"
    elif old == Status.PENDING_CUSTOMER:
        paused = clock.clock_resume(ticket, now=now)
        sla_paused = clock.sla_resume(ticket, now=now)
        data["clock"] = data["sla"] = "resumed"
        data["paused_seconds"] = int(paused.total_seconds())
        data["escalate_at"] = ticket.escalate_at.isoformat() if ticket.escalate_at else None
        data["sla_paused_seconds"] = int(sla_paused.total_seconds())
        data["resolution_due"] = (
            ticket.resolution_due.isoformat() if ticket.resolution_due else None
        )
    ticket.status = status
    return data


def _set_status(
    ticket: Ticket,
    *,
    status: str,
    actor: User | None,
    now: datetime,
    fields: list[str],
    reason: str = "",
) -> None:
    if ticket.status == status:
        return
    data = status_change(ticket, status=status, now=now)
    fields.extend(["status", "customer_round_trips", *clock.CLOCK_FIELDS, *clock.SLA_FIELDS])
    ticket_event_create(
        ticket=ticket,
        kind=Kind.STATUS,
        actor=actor,
        actor_name="" if actor else "system",
        body=reason,
        is_public=True,
        data=data,
        notify=True,
    )


@transaction.atomic
def ticket_change_status(*, ticket: Ticket, actor: User, status: str, reason: str = "") -> Ticket:
    ticket = ticket_lock(ticket)
    _require_agent(user=actor, ticket=ticket)
    allowed = AGENT_STATUS_CHANGES.get(ticket.status, set())
    if status not in allowed:
        raise TicketError(
            _("A %(old)s ticket cannot be set to %(new)s here.")
            % {"old": ticket.get_status_display(), "new": status},
            field="status",
        )
    fields = ["updated_at"]
    _set_status(ticket, status=status, actor=actor, now=_now(), fields=fields, reason=reason)
    ticket.save(update_fields=sorted(set(fields)))
    return ticket


@transaction.atomic
def ticket_change_priority(*, ticket: Ticket, actor: User, priority: str) -> Ticket:
    """A new priority re-budgets the tier clock: time already spent counts against it."""
    ticket = ticket_lock(ticket)
    _require_agent(user=actor, ticket=ticket)
    _require_active(ticket)
    if priority not in PRIORITY_RANK:
        raise TicketError(_("Unknown priority."), field="priority")
    if priority == ticket.priority:
        return ticket
    old = ticket.priority
    ticket.priority = priority
    clock.clock_rebudget(ticket, now=_now())
    ticket.save(update_fields=["priority", "updated_at", *clock.CLOCK_FIELDS])
    ticket_event_create(
        ticket=ticket,
        kind=Kind.PRIORITY,
        actor=actor,
        data={
            "from": old,
            "to": priority,
            "escalate_at": ticket.escalate_at.isoformat() if ticket.escalate_at else None,
        },
    )
    return ticket


# ---------------------------------------------------------------------------
# Tier moves (manual). Timer promotions live in the escalation engine
# (tiers.services), which uses ``ticket_enter_tier`` too.
# ---------------------------------------------------------------------------


def ticket_enter_tier(ticket: Ticket, *, tier: int, now: datetime) -> list[str]:
    """Move an (already locked) ticket into ``tier``: assignee cleared, fresh budget.
    Returns the fields to save. The caller writes the event."""
    ticket.tier = tier
    ticket.assignee = None
    if ticket.status not in (Status.PENDING_VENDOR,):
        ticket.status = Status.NEW if tier < 4 else ticket.status
    clock.clock_start(ticket, now=now)
    return ["tier", "assignee", "status", "updated_at", *clock.CLOCK_FIELDS]


def handoff_text(handoff: dict[str, Any]) -> str:
    lines = [
        f"**Symptom:** {handoff.get('symptom', '')}",
        f"**Steps tried:** {handoff.get('steps_tried', '')}",
        f"**Findings:** {handoff.get('findings', '')}",
    ]
    if handoff.get("articles"):
        lines.append("**KB articles consulted:** " + ", ".join(handoff["articles"]))
    return "\n\n".join(lines)


@transaction.atomic
def ticket_escalate(
    *,
    ticket: Ticket,
    actor: User,
    symptom: str,
    steps_tried: str,
    findings: str,
    articles: Sequence[str] = (),
    expected_tier: int | None = None,
) -> Ticket:
    """Raise a ticket one tier with a structured hand-off (Tier 1 → 2, 2 → 3).

    Tier 3 → 4 is a vendor hand-off (``tiers.services.vendor_handoff``). With
    ``expected_tier`` the call is a compare-and-set: if a timer promoted the ticket
    meanwhile, it raises ``ConflictError`` instead of skipping a tier. ``articles``
    keeps only the slugs of published articles the actor may read.
    """
    ticket = ticket_lock(ticket)
    _require_agent(user=actor, ticket=ticket)
    _require_active(ticket)
    missing = [
        name
        for name, value in (
            ("symptom", symptom),
            ("steps_tried", steps_tried),
            ("findings", findings),
        )
        if not (value or "").strip()
    ]
    if missing:
        raise TicketError(
            _("A hand-off needs the symptom, the steps tried and the findings."), field=missing[0]
        )
    if expected_tier is not None and ticket.tier != expected_tier:
        raise ConflictError(
            _("%(ref)s is already at Tier %(tier)s.")
            % {"ref": ticket.reference, "tier": ticket.tier}
        )
    if ticket.tier >= TierLevel.ENGINEERING:
        raise TicketError(_("Tier 3 tickets go to a vendor through the vendor hand-off."))
    now = _now()
    from_tier = ticket.tier
    fields = ticket_enter_tier(ticket, tier=from_tier + 1, now=now)
    ticket.escalation_count += 1  # the row is locked: no lost update
    fields.append("escalation_count")
    ticket.save(update_fields=sorted(set(fields)))
    handoff = {
        "symptom": symptom.strip(),
        "steps_tried": steps_tried.strip(),
        "findings": findings.strip(),
        "articles": article_slugs_visible_to(user=actor, slugs=articles),
    }
    ticket_event_create(
        ticket=ticket,
        kind=Kind.ESCALATED,
        actor=actor,
        body=handoff_text(handoff),
        data={
            "from_tier": from_tier,
            "to_tier": ticket.tier,
            "handoff": handoff,
            "escalate_at": ticket.escalate_at.isoformat() if ticket.escalate_at else None,
            "manual": True,
        },
        notify=True,
    )
    return ticket


@transaction.atomic
def ticket_deescalate(*, ticket: Ticket, actor: User, reason: str) -> Ticket:
    """Send a ticket one tier down; a reason is required."""
    ticket = ticket_lock(ticket)
    _require_agent(user=actor, ticket=ticket)
    _require_active(ticket)
    if not reason.strip():
        raise TicketError(_("Say why the ticket goes back down."), field="reason")
    if ticket.tier <= TierLevel.FRONTLINE or ticket.tier >= TierLevel.VENDOR:
        raise TicketError(_("Only Tier 2 and Tier 3 tickets can be de-escalated."))
    from_tier = ticket.tier
    fields = ticket_enter_tier(ticket, tier=from_tier - 1, now=_now())
    ticket.save(update_fields=sorted(set(fields)))
    ticket_event_create(
        ticket=ticket,
        kind=Kind.DEESCALATED,
        actor=actor,
        body=reason.strip(),
        data={"from_tier": from_tier, "to_tier": ticket.tier},
        notify=True,
    )
    return ticket


# ---------------------------------------------------------------------------
# Resolution
# ---------------------------------------------------------------------------


def _is_first_contact(ticket: Ticket) -> bool:
    """Resolved by Tier 1, never escalated, no customer round trip, not reopened."""
    return (
        ticket.tier == TierLevel.FRONTLINE
        and ticket.escalation_count == 0
        and ticket.customer_round_trips == 0
        and ticket.reopen_count == 0
        and not ticket.events.filter(kind=Kind.CUSTOMER_REPLY).exists()
    )


def _resolve(
    ticket: Ticket,
    *,
    resolution: str,
    resolved_by: User | None,
    first_contact: bool,
    now: datetime,
    fields: list[str],
) -> None:
    """Mark ``ticket`` resolved, stop its tier clock and save (with ``fields``, which
    the caller changed too). Shared by the agent's and the customer's resolve."""
    ticket.status = Status.RESOLVED
    ticket.resolution = resolution
    ticket.resolved_at = now
    ticket.resolved_by = resolved_by
    ticket.resolved_tier = ticket.tier
    ticket.first_contact_resolution = first_contact
    clock.clock_stop(ticket)
    ticket.sla_warn_at = None
    ticket.pending_since = None
    ticket.save(
        update_fields=[
            "status", "resolution", "resolved_at", "resolved_by", "resolved_tier",
            "first_contact_resolution", "sla_warn_at", "pending_since", "updated_at",
            *clock.CLOCK_FIELDS, *fields,
        ]
    )  # fmt: skip


@transaction.atomic
def ticket_resolve(
    *, ticket: Ticket, actor: User, resolution: str, article: Any | None = None
) -> Ticket:
    """Resolve with a resolution text (and optionally the KB article that solved it);
    the customer is asked to rate the help."""
    ticket = ticket_lock(ticket)
    _require_agent(user=actor, ticket=ticket)
    _require_active(ticket)
    if not resolution.strip():
        raise TicketError(_("Describe the resolution."), field="resolution")
    now = _now()
    ticket.resolved_article = article
    fields = ["resolved_article"]
    if ticket.first_response_at is None:
        ticket.first_response_at = now
        fields.append("first_response_at")
    _resolve(
        ticket,
        resolution=resolution.strip(),
        resolved_by=actor,
        first_contact=_is_first_contact(ticket),
        now=now,
        fields=fields,
    )
    ticket_event_create(
        ticket=ticket,
        kind=Kind.RESOLVED,
        actor=actor,
        body=ticket.resolution,
        is_public=True,
        data={
            "tier": ticket.tier,
            "article": getattr(article, "slug", None),
            "first_contact": ticket.first_contact_resolution,
        },
        notify=True,
    )
    return ticket


def _reopen(
    ticket: Ticket, *, actor: User | None, now: datetime, fields: list[str], reason: str
) -> None:
    ticket.status = Status.OPEN if ticket.assignee_id else Status.NEW
    ticket.reopen_count += 1
    ticket.resolved_at = None
    ticket.first_contact_resolution = False
    clock.clock_start(ticket, now=now)
    clock.sla_start(ticket, now=now)
    fields.extend(
        ["status", "reopen_count", "resolved_at", "first_contact_resolution",
         *clock.CLOCK_FIELDS, *clock.SLA_FIELDS]
    )  # fmt: skip
    ticket_event_create(
        ticket=ticket,
        kind=Kind.REOPENED,
        actor=actor,
        actor_name="" if actor else ticket.requester_name,
        body=reason,
        is_public=True,
        data={"tier": ticket.tier},
        notify=True,
    )


@transaction.atomic
def ticket_reopen(*, ticket: Ticket, actor: User | None, reason: str) -> Ticket:
    """Reopen a resolved ticket (customer "Reopen" or an agent): a fresh budget starts
    in the tier that resolved it."""
    ticket = ticket_lock(ticket)
    if ticket.status != Status.RESOLVED:
        raise TicketError(_("Only a resolved ticket can be reopened."))
    fields = ["updated_at"]
    _reopen(ticket, actor=actor, now=_now(), fields=fields, reason=reason)
    ticket.save(update_fields=sorted(set(fields)))
    return ticket


@transaction.atomic
def ticket_close(
    *, ticket: Ticket, actor: User | None, reason: str = "", notify: bool = False
) -> Ticket:
    """Close a resolved ticket (customer confirmed, or the auto-close after N days,
    which tells the customer: ``notify``)."""
    ticket = ticket_lock(ticket)
    if ticket.status != Status.RESOLVED:
        raise TicketError(_("Only a resolved ticket can be closed."))
    ticket.status = Status.CLOSED
    ticket.closed_at = _now()
    ticket.save(update_fields=["status", "closed_at", "updated_at"])
    ticket_event_create(
        ticket=ticket,
        kind=Kind.CLOSED,
        actor=actor,
        actor_name="" if actor else "system",
        body=reason,
        is_public=True,
        notify=notify,
    )
    return ticket

"""Links between tickets, and major incidents.

An agent links two tickets they can act on: *related*, *duplicate of*, or *part of*
an incident (a child has one parent; incidents do not nest, so no chain loops). A
ticket declared a **major incident** speaks for its children: one public update is
posted on the parent and on every active child in one batch of events (each child's
requester is e-mailed, as for any reply), and resolving the incident can resolve the
children with it. Each link, declaration, fan-out and resolution is on the timelines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.exceptions import ForbiddenError

from ..models import Ticket, TicketEvent, TicketLink
from . import core
from .core import TicketError
from .events import events_add, ticket_event_create, tickets_update

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser as User

Kind = TicketEvent.Kind
LinkKind = TicketLink.Kind
#: Children an incident update reaches at most (one batch of events).
MAX_CHILDREN = 2000


def _lock_pair(a: Ticket, b: Ticket) -> tuple[Ticket, Ticket]:
    locked = {
        t.pk: t
        for t in Ticket.objects.select_for_update(no_key=True, of=("self",))
        .select_related("category")
        .filter(pk__in=[a.pk, b.pk])
        .order_by("pk")  # id order: two links at once cannot deadlock
    }
    return locked[a.pk], locked[b.pk]


@transaction.atomic
def ticket_link(*, source: Ticket, target: Ticket, kind: str, actor: User) -> TicketLink:
    if kind not in LinkKind.values:
        raise TicketError(_("Choose how the tickets are linked."), field="link_kind")
    if source.pk == target.pk:
        raise TicketError(_("A ticket cannot be linked to itself."), field="link_target")
    source, target = _lock_pair(source, target)
    core._require_agent(user=actor, ticket=source)
    core._require_agent(user=actor, ticket=target)
    existing = TicketLink.objects.filter(source__in=[source, target], target__in=[source, target])
    if existing.exists():
        raise TicketError(
            _("%(a)s and %(b)s are already linked.")
            % {"a": source.reference, "b": target.reference},
            field="link_target",
        )
    if kind == LinkKind.CHILD:
        if TicketLink.objects.filter(source=source, kind=LinkKind.CHILD).exists():
            raise TicketError(
                _("%(ref)s is already part of an incident.") % {"ref": source.reference},
                field="link_target",
            )
        # One level only (an incident and its tickets), so no chain can loop.
        if TicketLink.objects.filter(source=target, kind=LinkKind.CHILD).exists():
            raise TicketError(
                _("%(ref)s is itself part of an incident.") % {"ref": target.reference},
                field="link_target",
            )
        if TicketLink.objects.filter(target=source, kind=LinkKind.CHILD).exists():
            raise TicketError(
                _("%(ref)s has tickets of its own linked to it.") % {"ref": source.reference},
                field="link_target",
            )
    try:
        with transaction.atomic():
            link = TicketLink.objects.create(
                source=source, target=target, kind=kind, created_by=actor
            )
    except IntegrityError:  # a concurrent link got there first
        raise TicketError(_("These tickets are already linked."), field="link_target") from None
    label = LinkKind(kind).label
    for ticket, other in ((source, target), (target, source)):
        ticket_event_create(
            ticket=ticket,
            kind=Kind.LINKED,
            actor=actor,
            body=f"{label}: {other.reference}" if ticket is source else "",
            data={"link": kind, "source": source.reference, "target": target.reference},
        )
    return link


@transaction.atomic
def ticket_unlink(*, link: TicketLink, actor: User) -> None:
    source, target = _lock_pair(link.source, link.target)
    core._require_agent(user=actor, ticket=source)
    link.delete()
    for ticket in (source, target):
        ticket_event_create(
            ticket=ticket,
            kind=Kind.LINKED,
            actor=actor,
            data={"link": link.kind, "source": source.reference, "target": target.reference,
                  "removed": True},
        )  # fmt: skip


@transaction.atomic
def incident_declare(*, ticket: Ticket, actor: User, major: bool = True) -> Ticket:
    ticket = core.ticket_lock(ticket)
    core._require_agent(user=actor, ticket=ticket)
    core._require_active(ticket)
    if ticket.is_major_incident == major:
        return ticket
    if major and TicketLink.objects.filter(source=ticket, kind=LinkKind.CHILD).exists():
        raise TicketError(_("A ticket that is part of an incident cannot lead one."))
    ticket.is_major_incident = major
    ticket.save(update_fields=["is_major_incident", "updated_at"])
    ticket_event_create(
        ticket=ticket,
        kind=Kind.LINKED,
        actor=actor,
        body=_("Declared a major incident.") if major else _("No longer a major incident."),
        data={"major_incident": major},
    )
    return ticket


def incident_children(parent: Ticket, *, active_only: bool = True):
    qs = Ticket.objects.filter(links_out__target=parent, links_out__kind=LinkKind.CHILD)
    if active_only:
        qs = qs.filter(status__in=Ticket.ACTIVE_STATUSES)
    return qs.order_by("pk")


@dataclass
class IncidentReport:
    reached: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


@transaction.atomic
def incident_update(*, parent: Ticket, actor: User, body: str) -> IncidentReport:
    """One public update on the incident and on each active child, in one batch."""
    parent = core.ticket_lock(parent)
    core._require_agent(user=actor, ticket=parent)
    if not parent.is_major_incident:
        raise TicketError(_("Declare %(ref)s a major incident first.") % {"ref": parent.reference})
    body = body.strip()
    if not body:
        raise TicketError(_("Write the update first."), field="incident_body")
    children = list(
        incident_children(parent).select_for_update(no_key=True, of=("self",))[:MAX_CHILDREN]
    )
    now = timezone.now()
    events = [
        TicketEvent(ticket=parent, kind=Kind.REPLY, actor=actor, body=body, is_public=True,
                    notify=True, data={"incident_update": True, "children": len(children)}),
        *(
            TicketEvent(ticket=child, kind=Kind.REPLY, actor=actor, body=body, is_public=True,
                        notify=True, data={"incident": parent.reference})
            for child in children
        ),
    ]  # fmt: skip
    events_add(events)
    answered = [t.pk for t in [parent, *children] if t.first_response_at is None]
    if answered:
        tickets_update(answered, first_response_at=now)
    tickets_update([t.pk for t in [parent, *children]], updated_at=now)
    return IncidentReport(reached=[c.reference for c in children])


def incident_resolve(
    *, parent: Ticket, actor: User, resolution: str, with_children: bool = True
) -> IncidentReport:
    """Resolve the incident, and each active child the actor may act on, with the same
    resolution (one transaction each: a child someone else holds does not stop the rest)."""
    core.ticket_resolve(ticket=parent, actor=actor, resolution=resolution)
    report = IncidentReport()
    if not with_children:
        return report
    for child in incident_children(parent):
        text = _("Resolved with the major incident %(ref)s: %(resolution)s") % {
            "ref": parent.reference,
            "resolution": resolution.strip(),
        }
        try:
            core.ticket_resolve(ticket=child, actor=actor, resolution=text)
        except (TicketError, ForbiddenError) as exc:
            report.refused.append(f"{child.reference}: {exc.message}")
        else:
            report.resolved.append(child.reference)
    return report


def ticket_links_of(ticket: Ticket) -> list[dict]:
    """The ticket's links as the ticket page lists them (one query)."""
    rows = TicketLink.objects.filter(source=ticket) | TicketLink.objects.filter(target=ticket)
    out = []
    for link in rows.select_related("source", "target").order_by("kind", "pk"):
        outgoing = link.source_id == ticket.pk
        other = link.target if outgoing else link.source
        label = (
            LinkKind(link.kind).label
            if outgoing
            else {
                LinkKind.CHILD: _("Incident of"),
                LinkKind.DUPLICATE: _("Duplicated by"),
                LinkKind.RELATED: _("Related to"),
            }[link.kind]
        )
        out.append({"id": link.pk, "label": label, "kind": link.kind, "outgoing": outgoing,
                    "reference": other.reference, "subject": other.subject,
                    "status": other.get_status_display()})  # fmt: skip
    return out

"""Auto-assignment: a ticket arriving in a tier gets an agent of that tier.

Per tier (``TierAssignment``, edited on the manager pages) the mode is *off* (agents
claim from the queue), *round robin* (each eligible agent in turn) or *least open work*
(the eligible agent holding the fewest active tickets; ties go in turn). Eligible: an
active agent of the ticket's tier who is available (or whose out-of-office return date
has come), below their capacity, and skilled in the ticket's category (an agent with
no skills takes every category).

When it runs: after the write that put the ticket in the tier commits (creation,
escalation, timer promotion, bounce-back, reopen), as an event hook, so every path
into a tier, the sweep's bulk promotions included, is covered by one rule. The sweep
(``assignment_sweep``) catches what a hook missed (a worker died between commit and
hook) and hands the tickets of agents who are away, untouched for
``reassign_after_hours``, to someone else.

Concurrency: the tier's ``TierAssignment`` row is locked for the pick, so concurrent
arrivals take turns one after the other and each agent gets their share; the ticket
row is locked too, and a ticket someone claimed meanwhile is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tickets.models import Ticket, TicketEvent
from tickets.services.core import ticket_event_create

from .models import AgentProfile, TierAssignment, TierLevel
from .selectors import auto_assign_tiers

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser as User

logger = logging.getLogger(__name__)
Kind = TicketEvent.Kind
Mode = TierAssignment.Mode
ACTOR = "auto-assignment"
#: Events after which a ticket may be waiting, unassigned, in a tier.
ARRIVAL_KINDS = frozenset(
    {Kind.CREATED, Kind.ESCALATED, Kind.PROMOTED, Kind.DEESCALATED, Kind.BOUNCED, Kind.REOPENED}
)
#: A hook that did not run (worker killed after commit) is caught up this much later.
CATCH_UP_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class Candidate:
    profile: AgentProfile
    open_work: int


def eligible_agents(*, tier: int, category_id: int, now: datetime) -> list[Candidate]:
    """The agents who may take a ticket of ``category_id`` in ``tier`` now, with their
    open work; two queries, whatever the number of agents."""
    profiles = list(
        AgentProfile.objects.filter(tier=tier, is_active=True, user__is_active=True)
        .filter(Q(is_available=True) | Q(away_until__lte=now))
        .filter(Q(skills__isnull=True) | Q(skills__id=category_id))
        .select_related("user")
        .distinct()
        .order_by("user_id")
    )
    if not profiles:
        return []
    counts = dict(
        Ticket.objects.filter(
            assignee_id__in=[p.user_id for p in profiles], status__in=Ticket.ACTIVE_STATUSES
        )
        .values_list("assignee_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [
        Candidate(p, counts.get(p.user_id, 0))
        for p in profiles
        if p.capacity is None or counts.get(p.user_id, 0) < p.capacity
    ]


def _in_turn(candidates: Sequence[Candidate], after_user_id: int | None) -> list[Candidate]:
    """Candidates in round-robin order: the first after the last one served."""
    if after_user_id is None:
        return list(candidates)
    later = [c for c in candidates if c.profile.user_id > after_user_id]
    return later + [c for c in candidates if c.profile.user_id <= after_user_id]


def pick(config: TierAssignment, candidates: Sequence[Candidate]) -> Candidate | None:
    ordered = _in_turn(candidates, config.last_assignee_id)
    if not ordered:
        return None
    if config.mode == Mode.LEAST_OPEN:
        return min(ordered, key=lambda c: c.open_work)  # min keeps the first of ties
    return ordered[0]


def auto_assign(ticket_id: int, *, now: datetime | None = None, reason: str = "") -> User | None:
    """Give the ticket an agent if its tier assigns automatically and it has none.
    Returns the agent, or None when it stays in the queue."""
    now = now or timezone.now()
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update(no_key=True, of=("self",))
            .select_related("category")
            .filter(pk=ticket_id)
            .first()
        )
        if (
            ticket is None
            or ticket.assignee_id is not None
            or ticket.status not in Ticket.ACTIVE_STATUSES
            or ticket.tier >= TierLevel.VENDOR
        ):
            return None
        config = TierAssignment.objects.select_for_update().filter(tier=ticket.tier).first()
        if config is None or config.mode == Mode.OFF:
            return None
        chosen = pick(
            config, eligible_agents(tier=ticket.tier, category_id=ticket.category_id, now=now)
        )
        if chosen is None:
            return None
        agent = chosen.profile.user
        ticket.assignee = agent
        fields = ["assignee", "updated_at"]
        if ticket.status == Ticket.Status.NEW:
            ticket.status = Ticket.Status.OPEN
            fields.append("status")
        ticket.save(update_fields=fields)
        # update(): the turn moves without bumping the policies version (tiers/apps.py).
        TierAssignment.objects.filter(pk=config.pk).update(last_assignee=agent)
        ticket_event_create(
            ticket=ticket,
            kind=Kind.ASSIGNED,
            actor_name=ACTOR,
            body=_("Assigned to %(name)s (%(mode)s, %(n)s open before this one).")
            % {
                "name": agent.get_username(),
                "mode": config.get_mode_display(),
                "n": chosen.open_work,
            },
            data={
                "assignee": agent.get_username(),
                "mode": config.mode,
                "open_work": chosen.open_work,
                **({"reason": reason} if reason else {}),
            },
            notify=True,
        )
        return agent


def on_event(event: TicketEvent) -> None:
    """Event hook (after commit): a ticket that may have arrived in a tier unassigned."""
    if event.kind not in ARRIVAL_KINDS:
        return
    # Most desks assign nothing automatically: a memoised set of tiers, no query. The
    # ticket the writer held (when it is loaded) tells its tier; a bulk-written event
    # carries only the id, and auto_assign reads the row anyway.
    tiers = auto_assign_tiers()
    ticket = TicketEvent.ticket.field.get_cached_value(event, default=None)
    if not tiers or (ticket is not None and ticket.tier not in tiers):
        return
    try:
        auto_assign(event.ticket_id)
    except Exception:  # the request or sweep that wrote the event has committed; the
        # assignment sweep catches this ticket up
        logger.exception("auto-assignment of ticket %s failed", event.ticket_id)


@dataclass
class AssignmentReport:
    assigned: list[str] = field(default_factory=list)
    reassigned: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"assigned": len(self.assigned), "reassigned": len(self.reassigned)}


def _away_agents(now: datetime) -> Q:
    return Q(assignee__agent_profile__is_available=False) & (
        Q(assignee__agent_profile__away_until__isnull=True)
        | Q(assignee__agent_profile__away_until__gt=now)
    )


def assignment_sweep(*, now: datetime | None = None, batch: int = 200) -> AssignmentReport:
    """Catch up missed assignments; move the tickets of long-absent agents."""
    now = now or timezone.now()
    report = AssignmentReport()
    if not auto_assign_tiers():
        return report
    configs = {c.tier: c for c in TierAssignment.objects.exclude(mode=Mode.OFF)}
    if not configs:
        return report
    for config in configs.values():
        if not config.reassign_after_hours:
            continue
        stale = now - timedelta(hours=config.reassign_after_hours)
        rows = list(
            Ticket.objects.filter(
                _away_agents(now), tier=config.tier, status__in=Ticket.ACTIVE_STATUSES,
                updated_at__lte=stale,
            ).values_list("pk", "reference")[:batch]
        )  # fmt: skip
        for pk, ref in rows:
            hours = config.reassign_after_hours
            if (
                _unassign_from_absent(pk, now=now, hours=hours)
                and auto_assign(pk, now=now, reason="assignee_away") is not None
            ):
                report.reassigned.append(ref)
    waiting = list(
        Ticket.objects.filter(
            assignee__isnull=True, tier__in=list(configs), status__in=Ticket.ACTIVE_STATUSES,
            updated_at__lte=now - CATCH_UP_AFTER,
        ).values_list("pk", "reference")[:batch]
    )  # fmt: skip
    for pk, ref in waiting:
        if auto_assign(pk, now=now) is not None:
            report.assigned.append(ref)
    return report


def _unassign_from_absent(ticket_id: int, *, now: datetime, hours: int) -> bool:
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update(no_key=True, of=("self",))
            .filter(_away_agents(now), pk=ticket_id, status__in=Ticket.ACTIVE_STATUSES)
            .select_related("assignee")
            .first()
        )
        if ticket is None:  # back, or someone moved it meanwhile
            return False
        previous = ticket.assignee.get_username()
        ticket.assignee = None
        ticket.save(update_fields=["assignee", "updated_at"])
        ticket_event_create(
            ticket=ticket,
            kind=Kind.ASSIGNED,
            actor_name=ACTOR,
            body=_("%(name)s is away and nobody touched this ticket for %(hours)s hours.")
            % {"name": previous, "hours": hours},
            data={"assignee": None, "previous": previous, "reason": "assignee_away"},
        )
        return True


def agent_set_away(
    *, profile: AgentProfile, away: bool, until: datetime | None = None
) -> AgentProfile:
    """The agent's own "away / out of office until …" switch (and "I'm back")."""
    profile.is_available = not away
    profile.away_until = until if away else None
    profile.save(update_fields=["is_available", "away_until", "updated_at"])
    return profile

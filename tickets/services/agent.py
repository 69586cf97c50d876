"""Agent-workspace use cases built on ``core``: bounce, avoidable marks, merge, bulk
actions, spam close, canned-response rendering, collision/presence, access grants.

Each write runs in a transaction, locks the ticket first and writes exactly one
``TicketEvent`` on the ticket it changes.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.exceptions import ConflictError, DomainError, ForbiddenError
from tiers import clock
from tiers.models import TierLevel
from tiers.selectors import agent_profile_of, user_is_manager

from ..models import (
    CannedResponse,
    Ticket,
    TicketAccessGrant,
    TicketEvent,
)
from . import core
from .core import TicketError, ticket_enter_tier
from .events import ticket_event_create, tickets_update
from .notify import bell, bells_store

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from knowledgebase.models import Article

    User = AbstractBaseUser

Kind = TicketEvent.Kind
Status = Ticket.Status

#: Kinds that count as "someone posted" for the collision notice.
POST_KINDS = (Kind.REPLY, Kind.CUSTOMER_REPLY, Kind.NOTE, Kind.VENDOR_UPDATE)


def _notify_in_app(*, users: Iterable[Any], ticket: Ticket, event: TicketEvent, text: str) -> None:
    """In-app notifications for kinds the e-mail outbox does not route (coaching, merges,
    grants); the bell in the agent header shows them."""
    bells_store([bell(ticket=ticket, event=event, users=users, text=text, skip=event.actor_id)])


def latest_escalation(ticket: Ticket) -> TicketEvent | None:
    """The manual escalation that brought the ticket into its current tier, if the
    ticket has not moved since (a later promotion/de-escalation/bounce supersedes it)."""
    moves = (Kind.ESCALATED, Kind.PROMOTED, Kind.DEESCALATED, Kind.BOUNCED)
    event = ticket.events.filter(kind__in=moves).select_related("actor").order_by("-id").first()
    if event is None or event.kind != Kind.ESCALATED:
        return None
    if event.data.get("to_tier") != ticket.tier:
        return None
    return event


# ---------------------------------------------------------------------------
# Hand-off review: bounce and "avoidable"
# ---------------------------------------------------------------------------


@transaction.atomic
def ticket_bounce(*, ticket: Ticket, actor: User, reason: str) -> Ticket:
    """Send an incomplete hand-off back to the tier below, to the agent who escalated
    it (when they are still an agent there), with the reason. Writes one BOUNCED event;
    the lower tier's agents are notified."""
    ticket = core.ticket_lock(ticket)
    core._require_agent(user=actor, ticket=ticket)
    core._require_active(ticket)
    if not reason.strip():
        raise TicketError(_("Say what the hand-off is missing."), field="reason")
    escalation = latest_escalation(ticket)
    if escalation is None:
        raise TicketError(_("Only a ticket escalated by hand into this tier can be bounced."))
    from_tier = ticket.tier
    fields = ticket_enter_tier(
        ticket, tier=escalation.data.get("from_tier", from_tier - 1), now=timezone.now()
    )
    escalator = escalation.actor
    profile = agent_profile_of(escalator) if escalator else None
    if profile is not None and profile.tier <= ticket.tier:
        ticket.assignee = escalator
        ticket.status = Status.OPEN
    ticket.save(update_fields=sorted(set(fields)))
    ticket_event_create(
        ticket=ticket,
        kind=Kind.BOUNCED,
        actor=actor,
        body=reason.strip(),
        data={
            "from_tier": from_tier,
            "to_tier": ticket.tier,
            "reason": reason.strip(),
            "escalation_event_id": escalation.pk,
        },
        notify=True,
    )
    return ticket


@transaction.atomic
def ticket_mark_avoidable(
    *,
    ticket: Ticket,
    actor: User,
    tier: int | None = None,
    article: Article | None = None,
    missing_article: bool = False,
) -> TicketEvent:
    """Mark the escalation this tier received as "avoidable at Tier N": either naming
    the article that would have solved it, or flagging the missing article. The
    coaching and KB-gap reports read the event's data keys. Once per escalation."""
    ticket = core.ticket_lock(ticket)
    core._require_agent(user=actor, ticket=ticket)
    escalation = latest_escalation(ticket)
    if escalation is None:
        raise TicketError(_("This ticket did not reach its tier through a hand-off."))
    from_tier = int(escalation.data.get("from_tier", ticket.tier - 1))
    tier = from_tier if tier is None else tier
    if not TierLevel.FRONTLINE <= tier < ticket.tier:
        raise TicketError(_("Choose a tier below this one."), field="tier")
    if (article is None) == (not missing_article):
        raise TicketError(
            _("Name the article that would have solved it, or tick “missing article”."),
            field="article",
        )
    if ticket.events.filter(kind=Kind.AVOIDABLE, data__escalation_event_id=escalation.pk).exists():
        raise ConflictError(_("This escalation is already marked avoidable."))
    event = ticket_event_create(
        ticket=ticket,
        kind=Kind.AVOIDABLE,
        actor=actor,
        body=(
            _("Avoidable at Tier %(tier)s: the article “%(title)s” covers it.")
            % {"tier": tier, "title": article.title}
            if article is not None
            else _("Avoidable at Tier %(tier)s: no KB article covers it yet.") % {"tier": tier}
        ),
        data={
            "tier": tier,
            "article": article.slug if article is not None else None,
            "missing_article": article is None,
            "escalated_by": escalation.actor_id,
            "category_id": ticket.category_id,
            "escalation_event_id": escalation.pk,
        },
    )
    # Coaching: the agent who escalated hears about it in the app.
    _notify_in_app(
        users=[escalation.actor],
        ticket=ticket,
        event=event,
        text=f"{ticket.reference}: escalation marked avoidable at Tier {tier}",
    )
    return event


# ---------------------------------------------------------------------------
# Merge, spam, bulk
# ---------------------------------------------------------------------------


@transaction.atomic
def ticket_merge(*, source: Ticket, target: Ticket, actor: User) -> Ticket:
    """Close ``source`` as a duplicate of ``target``: one MERGED event on the source
    (public, so the customer's tracking page points at the target), one note on the
    target. Both rows are locked in id order so two merges cannot deadlock."""
    if source.pk == target.pk:
        raise TicketError(_("A ticket cannot be merged into itself."), field="target")
    first, second = sorted([source.pk, target.pk])
    locked = {
        t.pk: t
        for t in Ticket.objects.select_for_update(no_key=True, of=("self",))
        .select_related("assignee")
        .filter(pk__in=[first, second])
        .order_by("pk")
    }
    source, target = locked[source.pk], locked[target.pk]
    core._require_agent(user=actor, ticket=source)
    core._require_agent(user=actor, ticket=target)
    core._require_active(source)
    if target.status == Status.CLOSED or target.merged_into_id:
        raise TicketError(_("Merge into an open ticket."), field="target")
    now = timezone.now()
    source.status = Status.CLOSED
    source.closed_at = now
    source.merged_into = target
    clock.clock_stop(source)
    source.sla_warn_at = None
    source.save(
        update_fields=[
            "status",
            "closed_at",
            "merged_into",
            "sla_warn_at",
            "updated_at",
            *clock.CLOCK_FIELDS,
        ]
    )
    ticket_event_create(
        ticket=source,
        kind=Kind.MERGED,
        actor=actor,
        body=_("Merged into %(ref)s.") % {"ref": target.reference},
        is_public=True,
        data={"into": target.reference, "target_id": target.pk},
    )
    note = ticket_event_create(
        ticket=target,
        kind=Kind.NOTE,
        actor=actor,
        body=_("%(ref)s (“%(subject)s”, from %(email)s) was merged into this ticket.")
        % {"ref": source.reference, "subject": source.subject, "email": source.requester_email},
        data={"merged_from": source.reference, "source_id": source.pk},
    )
    tickets_update([target.pk], updated_at=now)
    _notify_in_app(
        users=[target.assignee, source.assignee],
        ticket=target,
        event=note,
        text=f"{source.reference} was merged into {target.reference}",
    )
    return source


@transaction.atomic
def ticket_close_spam(*, ticket: Ticket, actor: User) -> Ticket:
    """Close a spam ticket straight away: one internal CLOSED event, no e-mail (a reply
    would confirm the address to the spammer), both clocks stopped."""
    ticket = core.ticket_lock(ticket)
    core._require_agent(user=actor, ticket=ticket)
    core._require_active(ticket)
    ticket.status = Status.CLOSED
    ticket.closed_at = timezone.now()
    clock.clock_stop(ticket)
    ticket.sla_warn_at = None
    ticket.save(
        update_fields=["status", "closed_at", "sla_warn_at", "updated_at", *clock.CLOCK_FIELDS]
    )
    ticket_event_create(
        ticket=ticket, kind=Kind.CLOSED, actor=actor, body=_("Closed as spam."), data={"spam": True}
    )
    return ticket


BULK_ACTIONS = {
    "claim": _("Claim"),
    "priority": _("Change priority"),
    "spam": _("Close as spam"),
}


@dataclass
class BulkResult:
    done: list[str]
    failed: list[str]  # one message per ticket that could not be changed


def tickets_bulk_act(
    *, tickets: Iterable[Ticket], actor: User, action: str, priority: str = ""
) -> BulkResult:
    """Apply one action to each ticket, each in its own transaction: one ticket that
    was claimed meanwhile does not undo the others."""
    if action not in BULK_ACTIONS:
        raise TicketError(_("Choose an action."), field="action")
    result = BulkResult([], [])
    for ticket in tickets:
        try:
            if action == "claim":
                core.ticket_claim(ticket=ticket, agent=actor)
            elif action == "priority":
                core.ticket_change_priority(ticket=ticket, actor=actor, priority=priority)
            else:
                ticket_close_spam(ticket=ticket, actor=actor)
        except DomainError as exc:
            result.failed.append(exc.message)
        else:
            result.done.append(ticket.reference)
    return result


# ---------------------------------------------------------------------------
# Resolve (with an optional draft article), access grants
# ---------------------------------------------------------------------------


def draft_article_service() -> Any | None:
    """``knowledgebase.services.article_create_draft`` when the KB app provides it."""
    try:
        from knowledgebase.services import article_create_draft
    except ImportError:
        return None
    return article_create_draft


@transaction.atomic
def ticket_resolve_with_article(
    *,
    ticket: Ticket,
    actor: User,
    resolution: str,
    article: Article | None = None,
    create_draft: bool = False,
) -> Ticket:
    """Resolve; optionally start a KB draft from the resolution in the same transaction
    (the draft is the KB's own record; the ticket gets exactly the RESOLVED event)."""
    ticket = core.ticket_resolve(ticket=ticket, actor=actor, resolution=resolution, article=article)
    if create_draft:
        create = draft_article_service()
        if create is None:
            raise TicketError(_("Draft articles cannot be created here yet."))
        create(
            author=actor,
            title=ticket.subject[:200],
            body=ticket.resolution,
            category=None,
            source_ticket=ticket,
        )
    return ticket


@transaction.atomic
def ticket_access_grant(
    *, ticket: Ticket, manager: User, user: User, reason: str = ""
) -> TicketAccessGrant:
    """A manager lets ``user`` act on ``ticket`` above the user's tier. One NOTE event
    records it; the agent is notified in the app."""
    if not user_is_manager(manager):
        raise ForbiddenError(_("Only managers grant access to a ticket."))
    ticket = core.ticket_lock(ticket)
    if agent_profile_of(user) is None:
        raise TicketError(_("Access can only be granted to an agent."), field="user")
    grant, created = TicketAccessGrant.objects.get_or_create(
        ticket=ticket, user=user, defaults={"granted_by": manager, "reason": reason.strip()[:300]}
    )
    if not created:
        return grant
    event = ticket_event_create(
        ticket=ticket,
        kind=Kind.NOTE,
        actor=manager,
        body=_("%(name)s may now act on this ticket.") % {"name": user.get_username()}
        + (f" {reason.strip()}" if reason.strip() else ""),
        data={"access_grant": user.pk},
    )
    _notify_in_app(
        users=[user], ticket=ticket, event=event, text=f"{ticket.reference}: you were given access"
    )
    return grant


# ---------------------------------------------------------------------------
# Canned responses
# ---------------------------------------------------------------------------

PLACEHOLDER_RE = re.compile(r"\{\{\s*(requester_name|reference|agent_name|tracking_url)\s*\}\}")


def canned_responses_for(*, user: User) -> list[CannedResponse]:
    profile = agent_profile_of(user)
    max_tier = 4 if user_is_manager(user) else (profile.tier if profile else 0)
    return list(CannedResponse.objects.filter(is_active=True, tier__lte=max_tier))


def canned_response_render(*, canned: CannedResponse, ticket: Ticket, agent: User) -> str:
    """Fill the placeholders by plain string replacement: the body is never run through
    the template engine, so ``{% … %}`` in a canned text or a requester's name is inert."""
    name = agent.get_full_name() if hasattr(agent, "get_full_name") else ""
    values = {
        "requester_name": ticket.requester_name,
        "reference": ticket.reference or "",
        "agent_name": name or agent.get_username(),
        "tracking_url": settings.SITE_URL + ticket.get_tracking_url(),
    }
    return PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], canned.body)


# ---------------------------------------------------------------------------
# Collision notice: who else is looking, and what was posted since the page loaded
# ---------------------------------------------------------------------------

PRESENCE_TTL = 30  # seconds; the ticket page polls every 10


def presence_key(reference: str) -> str:
    # A digest: the page reads the key before the reference is known to exist.
    return f"presence:{hashlib.sha256(reference.encode()).hexdigest()[:24]}"


#: A viewer's mark is rewritten only when older than this: the page and its poll
#: (every 10 s) mostly read the marks in a round trip they make anyway, and write
#: nothing.
PRESENCE_REFRESH = PRESENCE_TTL / 3


def presence_touch(*, ticket: Ticket, user: User, seen: dict[str, list] | None = None) -> list[str]:
    """Record that ``user`` is viewing ``ticket``; return the names of the other agents
    seen in the last ``PRESENCE_TTL`` seconds. ``seen``: the marks, when the caller
    already read them (``presence_key``) with its other cache reads. Advisory only: a
    lost update between two simultaneous polls is corrected by the next poll."""
    key = presence_key(ticket.reference)
    now = time.time()
    try:
        if seen is None:
            seen = cache.get(key) or {}
        seen = {k: v for k, v in seen.items() if now - v[1] < PRESENCE_TTL}
        mine = seen.get(str(user.pk))
        if mine is None or now - mine[1] >= PRESENCE_REFRESH:
            seen[str(user.pk)] = [user.get_username(), now]
            cache.set(key, seen, PRESENCE_TTL)
    except Exception:  # the cache is down: no presence, the page still works
        return []
    return sorted(v[0] for k, v in seen.items() if k != str(user.pk))


def presence_leave(*, ticket: Ticket, user: User) -> None:
    """``user`` closed the ticket page (its live stream ended): drop the mark now rather
    than when it expires. Another open tab of the same agent puts it back at its next
    refresh."""
    key = presence_key(ticket.reference)
    try:
        seen = cache.get(key) or {}
        if seen.pop(str(user.pk), None) is not None:
            cache.set(key, seen, PRESENCE_TTL)
    except Exception:  # the cache is down: the mark expires on its own
        return


def events_since(*, ticket: Ticket, last_event_id: int, user: User) -> list[TicketEvent]:
    """Posts by other people after the event the agent last saw."""
    return list(
        ticket.events.filter(pk__gt=last_event_id, kind__in=POST_KINDS)
        .exclude(actor=user)
        .select_related("actor")
        .order_by("id")
    )

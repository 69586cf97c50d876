"""The trigger engine: after each event is written, in the same transaction, run the
active rules that listen to its kind.

Cost: the active rules are read once per process and version (``VersionedMemo``,
bumped by every Trigger write) and indexed by event kind, so an event no rule
listens to costs a dictionary lookup, and 200 rules cost their conditions in Python.
The only queries are the ones a matching rule needs (time in status, its actions).

Loops: the events a rule's actions write run the rules again (a rule may react to
another's change), inside the *chain* the first event started. Within a chain each
rule fires at most once per ticket; a rule that matches again is not run, and the
timeline says so once, naming the rule and the event that started the chain.

Actions change the locked ticket the calling service holds, in place: the service
saves its own fields after the event, and must not overwrite what a rule changed
with a stale copy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk import cache
from helpdesk.cache import VersionedMemo
from helpdesk.exceptions import DomainError
from tickets.models import CannedResponse, Category, Ticket, TicketEvent
from tickets.services.agent import canned_response_render
from tickets.services.events import ticket_event_create
from tiers import clock
from tiers.selectors import agent_profile_of

from .models import Trigger
from .services import tag_attach

if TYPE_CHECKING:
    from tickets.models import Ticket as TicketT

logger = logging.getLogger(__name__)
Kind = TicketEvent.Kind

#: Kinds a rule may not listen to: its own records (a rule reacting to rules).
UNLISTENABLE = frozenset({Kind.TRIGGER})

TRIGGERS_KEY = "ver:triggers"
_rules_memo = VersionedMemo(TRIGGERS_KEY)


def triggers_changed(**kwargs: Any) -> None:
    """``m2m_changed`` receiver: a rule's categories or people changed."""
    cache.bump(TRIGGERS_KEY)


@dataclass(frozen=True)
class Rule:
    """A Trigger as plain data (what the memo keeps)."""

    id: int
    name: str
    kinds: frozenset[str]
    categories: frozenset[int]
    priorities: frozenset[str]
    tiers: frozenset[int]
    domain: str
    text: str
    min_minutes_in_status: int | None
    set_priority: str
    set_category_id: int | None
    assign_to_id: int | None
    add_tag: str
    canned_reply_id: int | None
    notify_ids: tuple[int, ...]
    webhook_id: int | None


def _load_rules() -> dict[str, tuple[Rule, ...]]:
    by_kind: dict[str, list[Rule]] = {}
    triggers = (
        Trigger.objects.filter(is_active=True)
        .prefetch_related("categories", "notify_users")
        .order_by("position", "name", "id")
    )
    for t in triggers:
        rule = Rule(
            id=t.pk,
            name=t.name,
            kinds=frozenset(t.event_kinds or ()),
            categories=frozenset(c.pk for c in t.categories.all()),
            priorities=frozenset(t.priorities or ()),
            tiers=frozenset(int(x) for x in t.tiers or ()),
            domain=t.requester_domain.strip().lower(),
            text=t.text_contains.strip().lower(),
            min_minutes_in_status=t.min_minutes_in_status,
            set_priority=t.set_priority,
            set_category_id=t.set_category_id,
            assign_to_id=t.assign_to_id,
            add_tag=t.add_tag,
            canned_reply_id=t.canned_reply_id,
            notify_ids=tuple(u.pk for u in t.notify_users.all()),
            webhook_id=t.webhook_id,
        )
        for kind in rule.kinds:
            by_kind.setdefault(kind, []).append(rule)
    return {kind: tuple(rules) for kind, rules in by_kind.items()}


#: For a sweep (no request scope): ``with rules_pinned():`` reads the rule list once
#: for every event written in the block.
rules_pinned = _rules_memo.pinned


def rules_for(kind: str) -> tuple[Rule, ...]:
    """The active rules listening to ``kind``, in their order."""
    return _rules_memo.get("by-kind", _load_rules).get(kind, ())


# ---------------------------------------------------------------------------
# Chains
# ---------------------------------------------------------------------------


@dataclass
class _Chain:
    origin_event_id: int
    origin_kind: str
    fired: set[tuple[int, int]] = field(default_factory=set)  # (ticket id, rule id)
    stopped: set[tuple[int, int]] = field(default_factory=set)


_chain: ContextVar[_Chain | None] = ContextVar("automation_chain", default=None)


@contextmanager
def _chain_for(event: TicketEvent) -> Iterator[_Chain]:
    current = _chain.get()
    if current is not None:
        yield current
        return
    chain = _Chain(origin_event_id=event.pk, origin_kind=event.kind)
    token = _chain.set(chain)
    try:
        # The events the chain's rules write read the rule list the chain started with
        # (outside a request's memo scope, each would cost a cache round trip).
        with _rules_memo.pinned():
            yield chain
    finally:
        _chain.reset(token)


# ---------------------------------------------------------------------------
# Conditions
# ---------------------------------------------------------------------------


#: Events that (may) set the status: a tier move puts the ticket back to "new".
STATUS_SETTING_KINDS = (
    Kind.CREATED, Kind.STATUS, Kind.RESOLVED, Kind.REOPENED, Kind.CLOSED,
    Kind.ESCALATED, Kind.PROMOTED, Kind.DEESCALATED, Kind.BOUNCED, Kind.VENDOR_HANDOFF,
)  # fmt: skip


def status_entered_at(ticket: TicketT) -> datetime:
    """When the ticket entered its current status: its newest status-setting event
    (or its creation). A claim moves "new" to "open" without one: time "open" then
    counts from the event before (at worst a little long)."""
    if ticket.status == Ticket.Status.PENDING_CUSTOMER and ticket.pending_since:
        return ticket.pending_since
    newest = (
        TicketEvent.objects.filter(
            ticket_id=ticket.pk,
            kind__in=STATUS_SETTING_KINDS,
        )
        .order_by("-created_at", "-id")
        .values_list("created_at", flat=True)
        .first()
    )
    return newest or ticket.created_at


def _domain_matches(email: str, domain: str) -> bool:
    host = email.rpartition("@")[2].lower()
    return host == domain or host.endswith("." + domain)


def rule_matches(rule: Rule, ticket: TicketT, *, now: datetime) -> bool:
    """Every condition the rule sets holds for the ticket (cheap ones first)."""
    if rule.categories and ticket.category_id not in rule.categories:
        return False
    if rule.priorities and ticket.priority not in rule.priorities:
        return False
    if rule.tiers and ticket.tier not in rule.tiers:
        return False
    if rule.domain and not _domain_matches(ticket.requester_email or "", rule.domain):
        return False
    if rule.text and not (
        rule.text in (ticket.subject or "").lower()
        or rule.text in (ticket.description or "").lower()
    ):
        return False
    if rule.min_minutes_in_status is not None:
        minutes = (now - status_entered_at(ticket)).total_seconds() / 60
        if minutes < rule.min_minutes_in_status:
            return False
    return True


# ---------------------------------------------------------------------------
# Actions
# ---------------------------------------------------------------------------


class _Signature:
    """Stands in for the agent in a canned text's ``{{ agent_name }}``."""

    def get_full_name(self) -> str:
        return _("The help desk")

    def get_username(self) -> str:
        return "helpdesk"


def _assignable(user_id: int, ticket: TicketT) -> Any | None:
    """The active agent ``user_id`` if it may hold the ticket (the rule of
    ``ticket_assign``: its tier or above, managers anything)."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    profile = agent_profile_of(user) if user else None
    if profile is None or (profile.tier < min(ticket.tier, 3) and not profile.is_manager):
        return None
    return user


def _plan(rule: Rule, ticket: TicketT) -> list[str]:
    """What the rule's actions would change, in words; empty: nothing to do."""
    plan = []
    if rule.set_priority and ticket.is_active and ticket.priority != rule.set_priority:
        plan.append(_("priority to %(p)s") % {"p": rule.set_priority})
    if rule.set_category_id and ticket.category_id != rule.set_category_id:
        plan.append(_("category"))
    if rule.assign_to_id and ticket.is_active and ticket.assignee_id != rule.assign_to_id:
        plan.append(_("assignee"))
    if rule.add_tag and not ticket.tag_links.filter(tag__name=rule.add_tag).exists():
        plan.append(_("tag %(t)s") % {"t": rule.add_tag})
    if rule.canned_reply_id and ticket.status != Ticket.Status.CLOSED:
        plan.append(_("canned reply"))
    if rule.notify_ids:
        plan.append(_("notify %(n)d") % {"n": len(rule.notify_ids)})
    if rule.webhook_id:
        plan.append(_("webhook"))
    return plan


def _apply(rule: Rule, ticket: TicketT, *, now: datetime, by: str) -> list[str]:
    """Run the rule's actions on the locked ticket; each change writes its own event
    (which may run further rules). Returns what was done, in words."""
    done: list[str] = []
    if rule.set_priority and ticket.is_active and ticket.priority != rule.set_priority:
        old = ticket.priority
        ticket.priority = rule.set_priority
        clock.clock_rebudget(ticket, now=now)
        ticket.save(update_fields=["priority", "updated_at", *clock.CLOCK_FIELDS])
        ticket_event_create(
            ticket=ticket,
            kind=Kind.PRIORITY,
            actor_name=by,
            data={"from": old, "to": ticket.priority, "rule": rule.name},
        )
        done.append(_("set the priority to %(p)s") % {"p": ticket.get_priority_display()})
    if rule.set_category_id and ticket.category_id != rule.set_category_id:
        category = Category.objects.filter(pk=rule.set_category_id).first()
        if category is not None:
            old_name = ticket.category.name
            ticket.category = category
            ticket.save(update_fields=["category", "updated_at"])
            ticket_event_create(
                ticket=ticket,
                kind=Kind.CATEGORY,
                actor_name=by,
                body=_("Category: %(old)s → %(new)s") % {"old": old_name, "new": category.name},
                data={"from": old_name, "to": category.name, "rule": rule.name},
            )
            done.append(_("set the category to %(c)s") % {"c": category.name})
    if rule.assign_to_id and ticket.is_active and ticket.assignee_id != rule.assign_to_id:
        assignee = _assignable(rule.assign_to_id, ticket)
        if assignee is None:
            done.append(
                _("could not assign: the agent cannot take a Tier %(t)s ticket")
                % {"t": ticket.tier}
            )
        else:
            previous = ticket.assignee.get_username() if ticket.assignee_id else None
            ticket.assignee = assignee
            fields = ["assignee", "updated_at"]
            if ticket.status == Ticket.Status.NEW:
                ticket.status = Ticket.Status.OPEN
                fields.append("status")
            ticket.save(update_fields=fields)
            ticket_event_create(
                ticket=ticket,
                kind=Kind.ASSIGNED,
                actor_name=by,
                data={
                    "assignee": assignee.get_username(),
                    "previous": previous,
                    "rule": rule.name,
                },
                notify=True,
            )
            done.append(_("assigned %(u)s") % {"u": assignee.get_username()})
    if rule.add_tag and tag_attach(ticket=ticket, names=[rule.add_tag], actor=None, actor_name=by):
        done.append(_("added the tag %(t)s") % {"t": rule.add_tag})
    if rule.canned_reply_id and ticket.status != Ticket.Status.CLOSED:
        canned = CannedResponse.objects.filter(pk=rule.canned_reply_id, is_active=True).first()
        if canned is not None:
            # An automatic acknowledgement is not the desk's first response: the
            # first-response clock keeps running until a person answers.
            # Signed as the desk: the customer sees the reply, never the rule's name.
            ticket_event_create(
                ticket=ticket,
                kind=Kind.REPLY,
                actor_name=_("Help desk"),
                body=canned_response_render(canned=canned, ticket=ticket, agent=_Signature()),
                is_public=True,
                data={"rule": rule.name, "canned": canned.title},
                notify=True,
            )
            done.append(_("sent the canned reply “%(t)s”") % {"t": canned.title})
    return done


def _apply_safely(
    rule: Rule, ticket: TicketT, *, now: datetime, by: str, event: TicketEvent
) -> list[str] | None:
    """:func:`_apply` in a savepoint: a rule that cannot run (a tag limit reached, a
    database error) must not fail the change that set it off (a customer's
    submission). Its changes are undone, in the database and on the ticket the
    caller will save, and the timeline says why. ``None``: it did not run."""
    before = {f.attname: getattr(ticket, f.attname) for f in Ticket._meta.concrete_fields}
    cached = dict(ticket._state.fields_cache)
    try:
        with transaction.atomic():
            return _apply(rule, ticket, now=now, by=by)
    except Exception as exc:
        for name, value in before.items():
            setattr(ticket, name, value)
        ticket._state.fields_cache = cached
        logger.warning("rule %s failed on ticket %s", rule.id, ticket.pk, exc_info=True)
        reason = exc.message if isinstance(exc, DomainError) else _("an internal error")
        ticket_event_create(
            ticket=ticket,
            kind=Kind.TRIGGER,
            actor_name=by,
            body=_(
                "Rule “%(name)s” could not run on %(kind)s: %(reason)s. Nothing it did was kept."
            )
            % {"name": rule.name, "kind": event.get_kind_display(), "reason": reason},
            data={"rule": rule.name, "rule_id": rule.id, "failed": True},
        )
        return None


def _webhook_after_commit(webhook_id: int, event_id: int) -> None:
    import uuid

    from integrations.models import WebhookEventType
    from integrations.tasks import webhook_deliver

    def send() -> None:
        try:
            webhook_deliver.delay(
                webhook_id=webhook_id,
                event_id=event_id,
                event_type=str(WebhookEventType.TRIGGER_FIRED),
                delivery_id=str(uuid.uuid4()),
            )
        except Exception:  # broker down: the firing stays on the timeline
            logger.warning("could not queue webhook %s for event %s", webhook_id, event_id)

    transaction.on_commit(send)


# ---------------------------------------------------------------------------
# The hook
# ---------------------------------------------------------------------------


def _lock(ticket: TicketT) -> None:
    # The services lock before they write; a caller that did not is covered here,
    # without re-reading the row into another instance.
    Ticket.objects.select_for_update(no_key=True).filter(pk=ticket.pk).values_list("pk").first()


def on_event_written(event: TicketEvent) -> None:
    """Registered in ``tickets.services.events.EVENT_WRITE_HOOKS``."""
    if event.kind in UNLISTENABLE:
        return
    with _chain_for(event) as chain:
        rules = rules_for(event.kind)
        if not rules:
            return  # the usual case
        ticket = event.ticket
        now = timezone.now()
        for rule in rules:
            key = (ticket.pk, rule.id)
            if key in chain.stopped or not rule_matches(rule, ticket, now=now):
                continue
            if key in chain.fired:
                chain.stopped.add(key)
                if _plan(rule, ticket):
                    ticket_event_create(
                        ticket=ticket,
                        kind=Kind.TRIGGER,
                        actor_name=_("Rule: %(name)s") % {"name": rule.name},
                        body=_(
                            "Rule “%(name)s” matched again and was not run: a rule fires at "
                            "most once per ticket for one change (this chain started with "
                            "event #%(origin)s, %(kind)s), so rules that undo each other "
                            "cannot loop."
                        )
                        % {
                            "name": rule.name,
                            "origin": chain.origin_event_id,
                            "kind": chain.origin_kind,
                        },
                        data={"rule": rule.name, "rule_id": rule.id, "stopped": True},
                    )
                continue
            if not _plan(rule, ticket):
                continue
            chain.fired.add(key)
            _lock(ticket)
            by = _("Rule: %(name)s") % {"name": rule.name}
            done = _apply_safely(rule, ticket, now=now, by=by, event=event)
            if done is None:
                continue
            if rule.notify_ids:
                done.append(_("notified %(n)d people") % {"n": len(rule.notify_ids)})
            if rule.webhook_id:
                done.append(_("called a webhook"))
            record = ticket_event_create(
                ticket=ticket,
                kind=Kind.TRIGGER,
                actor_name=by,
                body=_("Rule “%(name)s” fired on %(kind)s: %(done)s.")
                % {"name": rule.name, "kind": event.get_kind_display(), "done": "; ".join(done)},
                data={
                    "rule": rule.name,
                    "rule_id": rule.id,
                    "on": event.kind,
                    "on_event": event.pk,
                    "notify": list(rule.notify_ids),
                },
                notify=bool(rule.notify_ids),
            )
            if rule.webhook_id:
                _webhook_after_commit(rule.webhook_id, record.pk)


def on_batch_committed(events: list[TicketEvent]) -> None:
    """``on_event_written.after_batch``: the rules of events written in a batch (the
    escalation sweep's promotions and warnings), after it committed. Each ticket is
    locked and read again in a transaction of its own, so a rule sees and changes the
    row as the sweep left it; a ticket another writer holds waits for it."""
    from tickets.models import Ticket

    for event in events:
        if event.kind in UNLISTENABLE or not rules_for(event.kind):
            continue  # the usual case: no rule listens, no query
        with transaction.atomic():
            ticket = (
                Ticket.objects.select_for_update(no_key=True, of=("self",))
                .select_related("category")
                .filter(pk=event.ticket_id)
                .first()
            )
            if ticket is None:
                continue
            event.ticket = ticket
            on_event_written(event)


on_event_written.after_batch = on_batch_committed  # type: ignore[attr-defined]

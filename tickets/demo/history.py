"""~90 days of help-desk history and the queue as it stands now, for ``seed_demo``.

**How the rows are made.** Each ticket's life (submitted, claimed, answered, escalated,
promoted by the timer, bounced, resolved, rated, …) is played in memory on a
``Ticket`` instance by :class:`_Life`, one method per service, at explicit moments.
The services read the clock themselves, so they are not called; their pure parts are:
the tier and SLA clocks (``tiers.clock``), ``ticket_enter_tier`` and
``handoff_text`` (``tickets.services.core``), and the escalation engine's
``promotion`` / ``tier_warning`` / ``sla_event`` / ``sla_checkpoints`` (``tiers.services``), so a timer
promotion carries the very explanation the sweep writes. Between two actions every
timer that came due fires as the sweep would have fired it (tier warning at 75%,
promotion, SLA warning and breach), a fraction of a second after its deadline.
The event kinds, bodies and data keys are those of the services, which
``tests/helpdesk/test_seed_demo.py`` checks against the real services and sweep.

The rows are then inserted in bulk (``bulk_create``) and their timestamps, which
``auto_now_add`` overwrites on insert, put back with one UPDATE per table.

**Deliberate differences from a desk that really ran for 90 days:** e-mails are not
sent — every event the outbox or the alert task would have sent carries
``notified_at`` (sent, seconds after it happened), so nothing goes out when the
workers start — and no in-app notifications (the bell) are written for the history.
Tracking tokens, vendor-link nonces and form keys are random (``secrets``): a seeded
random generator would make customers' links guessable. Everything else comes from
``random.Random(SEED)``, so two runs at the same moment give the same desk.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk import cache
from knowledgebase.models import Article, ArticleFeedback
from tickets.models import (
    Category,
    Deflection,
    SatisfactionRating,
    Ticket,
    TicketEvent,
    new_tracking_token,
)
from tickets.services.core import handoff_text, priority_from, status_change, ticket_enter_tier
from tiers import clock
from tiers.business_time import add_business_time
from tiers.models import AgentProfile, VendorContact, VendorHandoff
from tiers.selectors import budget_rule_for, calendar_default, policies_pinned
from tiers.services import TIMER, promotion, sla_checkpoints, sla_event, tier_warning
from tiers.tokens import new_nonce

from . import stories as S

SEED = 20260517
HISTORY_DAYS = 90
#: Weekday and weekend arrivals per day (a small company's IT desk).
WEEKDAY_TICKETS = 21
WEEKEND_TICKETS = 5
#: History ends this long before now: the live queue (``_live_queue``) covers the rest.
QUIET_BEFORE_NOW = timedelta(minutes=10)

Kind = TicketEvent.Kind
Status = Ticket.Status
RUNNING = Ticket.CLOCK_RUNNING_STATUSES
ACTIVE = Ticket.ACTIVE_STATUSES
#: Events whose e-mail the alert task sends (``tiers.services.ALERT_KINDS``).
ALERT_KINDS = {Kind.VENDOR_HANDOFF, Kind.SLA_BREACH, Kind.VENDOR_OVERDUE}
CUSTOMER_CONFIRMED = "The customer confirmed the problem is solved."

#: Paths of a Tier 1 ticket and their share in a normal week and in the dip week.
#: The dashboard's Tier 1 rate is resolutions / (resolutions + escalations) at Tier 1:
#: normal weeks come to ~77%, the dip week to ~66% (so the last 30 days come to ~74%).
TIER1_PATHS = {
    "fcr": (58, 48),
    "round_trip": (15, 13),
    "self_resolved": (3, 2),
    "reopened": (4, 3),
    "escalated": (11.5, 20),
    "bounced": (3, 5),
    "timer": (6, 7),
    "deescalated": (2, 2),
    "to_tier3": (2, 1),
}
TIER2_PATHS = {"resolved": 72, "round_trip": 12, "to_tier3": 9, "timer": 3, "deescalated": 4}
TIER3_PATHS = {"resolved": 88, "round_trip": 12}
GENERIC_QUESTION = (
    "Could you send me a screenshot of the message you see, and tell me roughly when it started?"
)
GENERIC_ANSWER = "Here's the screenshot. It started yesterday afternoon, I think after a restart."
GENERIC_REOPEN = [
    "Sorry, it's happening again this morning.",
    "It worked for a day but the same thing is back now.",
    "Hi again, the problem has come back.",
]
GENERIC_REOPEN_REPLY = "Thanks for letting me know. I've had another look and found what was left over; it should stay fixed now."


@dataclass
class Person:
    name: str
    email: str
    user: Any = None

    @property
    def first(self) -> str:
        return self.name.split()[0]


@dataclass
class Built:
    """What the history writes, before the ids are known."""

    tickets: list[Ticket] = field(default_factory=list)
    events: list[TicketEvent] = field(default_factory=list)
    ratings: list[SatisfactionRating] = field(default_factory=list)
    deflections: list[Deflection] = field(default_factory=list)
    handoffs: list[VendorHandoff] = field(default_factory=list)
    feedback: list[ArticleFeedback] = field(default_factory=list)
    views: dict[int, int] = field(default_factory=dict)
    #: (event, data key, referenced object): ids filled in once they are reserved.
    refs: list[tuple[TicketEvent, str, Any]] = field(default_factory=list)


class _Desk:
    """The cast and the props: agents per tier, customers, categories, articles."""

    def __init__(self, *, rng: random.Random, users: dict[str, Any]) -> None:
        self.rng = rng
        User = get_user_model()
        self.agents: dict[int, list[Any]] = {
            1: [users["agent1"]],
            2: [users["agent2"]],
            3: [users["agent3"]],
        }
        for username, first, last, tier in S.EXTRA_AGENTS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@tierdesk.local",
                },
            )
            if created:
                user.set_unusable_password()  # history only: nobody signs in as them
                user.save(update_fields=["password"])
            AgentProfile.objects.get_or_create(user=user, defaults={"tier": tier})
            self.agents[tier].append(user)
        self.manager = users["manager"]
        customer = users["customer"]
        self.customer = Person(customer.get_full_name(), customer.email, customer)
        self.named = [
            Person(f"{first} {last}", f"{first}.{last}@{domain}".lower().replace("'", ""))
            for first, last, domain in S.CUSTOMERS
        ]
        domains = sorted({d for _f, _l, d in S.CUSTOMERS})
        self.colleagues = []
        for i in range(30):
            first, last = S.COLLEAGUE_FIRST[i % 16], S.COLLEAGUE_LAST[(i * 7) % 12]
            domain = domains[i % len(domains)]
            self.colleagues.append(Person(f"{first} {last}", f"{first}.{last}@{domain}".lower()))
        self.categories = {c.slug: c for c in Category.objects.all()}
        self.articles = {a.slug: a for a in Article.objects.filter(status=Article.Status.PUBLISHED)}
        self.articles_by_category: dict[int, list[Article]] = {}
        for article in self.articles.values():
            if article.category_id and article.audience == Article.Audience.PUBLIC:
                self.articles_by_category.setdefault(article.category_id, []).append(article)
        self.public_articles = sorted(
            (a for a in self.articles.values() if a.audience == Article.Audience.PUBLIC),
            key=lambda a: a.slug,
        )
        self.vendor = (
            VendorContact.objects.filter(categories__slug="vendor-hardware").order_by("pk").first()
        )

    def agent(self, tier: int, *, lead: float = 0.4) -> Any:
        """An agent of ``tier``; the demo login of that tier takes ``lead`` of the work."""
        team = self.agents[min(tier, 3)]
        if len(team) == 1 or self.rng.random() < lead:
            return team[0]
        return self.rng.choice(team[1:])

    def requester(self) -> Person:
        r = self.rng.random()
        if r < 0.04:
            return self.customer
        if r < 0.55:
            return self.rng.choice(self.named)
        return self.rng.choice(self.colleagues)

    def article(self, slug: str | None) -> Article | None:
        return self.articles.get(slug) if slug else None


class Unplanned(Exception):
    """A planned life went off its script (a timer moved the ticket before the next
    step): the planner replays the ticket another way."""


class _Life:
    """One ticket played through the services' rules at explicit moments.

    Each public method is one service (``ticket_claim``, ``ticket_reply``, …) and
    writes what that service writes; :meth:`advance` first fires the timers that came
    due before the moment of the action, as the escalation sweep does."""

    def __init__(
        self,
        desk: _Desk,
        built: Built,
        *,
        pk: int,
        story: S.Story,
        person: Person,
        category: Category,
        priority: str,
        fill: dict[str, str],
    ) -> None:
        self.desk, self.built, self.rng = desk, built, desk.rng
        self.story, self.person, self.fill = story, person, fill
        self.events: list[TicketEvent] = []
        self.last = None
        self.warned: set[str] = set()
        self.fired: set[str] = set()
        self.promotions = 0
        # The sweep runs every second: each timer acts a fraction of a second late.
        self.lag = timedelta(milliseconds=self.rng.randint(60, 950))
        self.t = Ticket(
            pk=pk,
            reference=Ticket.reference_for(pk),
            tracking_token=new_tracking_token(),
            category=category,
            priority=priority,
            requester=person.user,
            requester_name=person.name,
            requester_email=person.email.lower(),
            tier=category.entry_tier,
            status=Status.NEW,
        )

    # -- helpers -----------------------------------------------------------------

    def text(self, template: str) -> str:
        return template.format_map(self.fill)

    def agent_message(self, agent: Any, body: str) -> str:
        greeting = self.text(self.rng.choice(S.GREETINGS))
        return (
            f"{greeting}\n\n{self.text(body)}\n\n{self.rng.choice(S.SIGNOFFS)}\n{agent.first_name}"
        )

    def customer_message(self, body: str) -> str:
        return f"{self.text(body)}\n\n{self.text(self.rng.choice(S.CUSTOMER_SIGNOFFS))}"

    def _at(self, at: datetime) -> datetime:
        # Two events of one action are written a moment apart, in order.
        if self.last is not None and at <= self.last:
            at = self.last + timedelta(milliseconds=1)
        self.last = at
        return at

    def event(self, at: datetime, kind: str, **kwargs: Any) -> TicketEvent:
        at = self._at(at)
        refs = kwargs.pop("refs", {})
        event = TicketEvent(ticket=self.t, kind=kind, **kwargs)
        event.created_at = at
        if event.notify or kind in ALERT_KINDS:
            # Sent by the outbox / the alert task moments later (see the module docstring).
            event.notified_at = at + timedelta(seconds=self.rng.randint(1, 4))
        for key, target in refs.items():
            self.built.refs.append((event, key, target))
        self.events.append(event)
        return event

    def touch(self, at: datetime) -> None:
        self.t.updated_at = at

    def budget(self) -> timedelta:
        rule = budget_rule_for(tier=self.t.tier, priority=self.t.priority)
        return rule.budget if rule else timedelta(days=3)

    def scale(self) -> float:
        """This tier's budget for the ticket's priority against its normal budget: an
        urgent ticket's steps come faster."""
        rule = budget_rule_for(tier=self.t.tier, priority=self.t.priority)
        normal = budget_rule_for(tier=self.t.tier, priority="normal")
        if rule is None or normal is None:
            return 1.0
        return rule.budget / normal.budget

    def later(self, at: datetime, lo: float, hi: float, *, scaled: bool = True) -> datetime:
        """``at`` plus ``lo``–``hi`` minutes (scaled by the priority's budget)."""
        minutes = self.rng.uniform(lo, hi) * (self.scale() if scaled else 1.0)
        return at + timedelta(minutes=minutes)

    # -- timers (tiers.services.escalation_sweep) ------------------------------------

    def advance(self, until: datetime) -> None:
        t = self.t
        while True:
            due: list[tuple[datetime, int, str]] = []
            if t.status in RUNNING and t.escalate_at is not None:
                due.append((t.escalate_at, 0, "promote"))
            if t.status in RUNNING and t.escalation_warn_at is not None:
                due.append((t.escalation_warn_at, 1, "warn"))
            if t.status in ACTIVE and t.sla_warn_at is not None:
                due.append((t.sla_warn_at, 2, "sla"))
            if not due:
                return
            at, _order, what = min(due)
            # A deadline already past when it was set (a reopened ticket's resolution
            # target) is caught by the next sweep after that moment.
            acted = max(at, self.last or at) + self.lag
            if acted > until:
                return
            getattr(self, f"_timer_{what}")(acted)

    def act(self, at: datetime, agent: Any) -> None:
        """Before an agent's action: the timers up to ``at``, then the services' check
        that the agent may act at the ticket's tier (``user_can_act_on``)."""
        self.advance(at)
        if self._tier_of(agent) < min(self.t.tier, 3):
            raise Unplanned(f"a Tier {self._tier_of(agent)} agent at Tier {self.t.tier}")

    def _timer_promote(self, acted: datetime) -> None:
        if self.t.tier >= 3:
            raise Unplanned("a Tier 3 budget ran out")
        _fields, event, _line = promotion(self.t, acted_at=acted)
        self.promotions += 1
        self.event(acted, **event)

    def _timer_warn(self, acted: datetime) -> None:
        t = self.t
        key = f"warn:{t.pk}:{t.tier}:{t.tier_entered_at.isoformat()}"
        if key not in self.warned:
            self.warned.add(key)
            event = tier_warning(t, now=acted, key=key)
            self.event(acted, event.pop("kind"), **event)
        t.escalation_warn_at = None

    def _timer_sla(self, acted: datetime) -> None:
        t = self.t
        points = sla_checkpoints(t, now=acted)
        passed = [p for p in points if p[0] <= acted]
        breached = {c for _at, kind, c, _due in passed if kind == "breach"}
        for _at, kind, which, due in passed:
            if kind != "breach" and which in breached:
                continue
            key = f"sla:{which}:{kind}:{t.pk}:{due.isoformat()}"
            if key in self.fired:
                continue
            self.fired.add(key)
            if kind == "breach" and t.sla_breached_at is None:
                t.sla_breached_at = acted
            event = sla_event(kind=kind, clock=which, due=due, now=acted, key=key)
            self.event(acted, event.pop("kind"), **event)
        t.sla_warn_at = min((p[0] for p in points if p[0] > acted), default=None)

    # -- the services ------------------------------------------------------------------

    def submit(
        self,
        at: datetime,
        *,
        description: str,
        urgency: str,
        impact: str,
        kb_shown: list[Article],
        kb_opened: list[Article],
    ) -> None:
        """``portal.ticket_submit`` → ``core.ticket_create_or_get``."""
        t = self.t
        t.subject = self.text(self.story.subject)[:200]
        t.description = description
        t.submission_key = secrets.token_urlsafe(32)
        t.created_at = at
        clock.clock_start(t, now=at)
        clock.sla_start(t, now=at)
        self.event(
            at,
            Kind.CREATED,
            actor=self.person.user,
            actor_name=t.requester_name,
            body=description,
            is_public=True,
            notify=True,
            data={
                "via": "web",
                "tier": t.tier,
                "priority": t.priority,
                "urgency": urgency,
                "impact": impact,
                "kb_shown": [a.slug for a in kb_shown],
                "kb_opened": [a.slug for a in kb_opened],
            },
        )
        if kb_opened:
            lines = "\n".join(f"- [{a.title}]({a.get_absolute_url()})" for a in kb_opened)
            self.event(
                at,
                Kind.NOTE,
                actor_name="system",
                body=_("The customer read these suggested articles and still submitted:")
                + "\n\n"
                + lines,
                data={"kb_opened": [a.slug for a in kb_opened]},
            )
        self.touch(at)

    def claim(self, at: datetime, agent: Any) -> None:
        self.act(at, agent)
        t = self.t
        if t.assignee_id == agent.pk:
            return
        t.assignee = agent
        if t.status == Status.NEW:
            t.status = Status.OPEN
        self.event(
            at, Kind.ASSIGNED, actor=agent, data={"assignee": agent.get_username(), "claimed": True}
        )
        self.touch(at)

    def reply(self, at: datetime, agent: Any, body: str, *, pending: bool = False) -> None:
        self.act(at, agent)
        t = self.t
        if t.first_response_at is None:
            t.first_response_at = at
        if t.status == Status.NEW:
            t.status = Status.OPEN
        self.event(at, Kind.REPLY, actor=agent, body=body, is_public=True, notify=True)
        if pending and t.status == Status.OPEN:
            self._set_status(at, Status.PENDING_CUSTOMER, actor=agent)
        self.touch(at)

    def note(self, at: datetime, agent: Any, body: str) -> None:
        self.act(at, agent)
        self.event(at, Kind.NOTE, actor=agent, body=self.text(body))
        self.touch(at)

    def _set_status(self, at: datetime, status: str, *, actor: Any) -> None:
        data = status_change(self.t, status=status, now=at)
        self.event(
            at,
            Kind.STATUS,
            actor=actor,
            actor_name="" if actor else "system",
            is_public=True,
            data=data,
            notify=True,
        )

    def customer_reply(self, at: datetime, body: str) -> None:
        self.advance(at)
        t = self.t
        actor = self.person.user
        self.event(
            at,
            Kind.CUSTOMER_REPLY,
            actor=actor,
            actor_name=t.requester_name,
            body=body,
            is_public=True,
            notify=True,
        )
        if t.status == Status.PENDING_CUSTOMER:
            self._set_status(at, Status.OPEN, actor=actor)
        elif t.status == Status.RESOLVED:
            t.status = Status.OPEN if t.assignee_id else Status.NEW
            t.reopen_count += 1
            t.resolved_at = None
            t.first_contact_resolution = False
            clock.clock_start(t, now=at)
            clock.sla_start(t, now=at)
            self.event(
                at,
                Kind.REOPENED,
                actor=actor,
                actor_name="" if actor else t.requester_name,
                body=_("The customer replied."),
                is_public=True,
                data={"tier": t.tier},
                notify=True,
            )
        self.touch(at)

    def escalate(
        self, at: datetime, agent: Any, handoff: tuple[str, str, str], articles: Iterable[str] = ()
    ) -> TicketEvent:
        self.act(at, agent)
        t = self.t
        from_tier = t.tier
        ticket_enter_tier(t, tier=from_tier + 1, now=at)
        t.escalation_count += 1
        symptom, steps, findings = (self.text(x) for x in handoff)
        packet = {
            "symptom": symptom,
            "steps_tried": steps,
            "findings": findings,
            "articles": [a for a in articles if a],
        }
        event = self.event(
            at,
            Kind.ESCALATED,
            actor=agent,
            body=handoff_text(packet),
            notify=True,
            data={
                "from_tier": from_tier,
                "to_tier": t.tier,
                "handoff": packet,
                "escalate_at": t.escalate_at.isoformat() if t.escalate_at else None,
                "manual": True,
            },
        )
        self.touch(at)
        return event

    def bounce(self, at: datetime, agent: Any, reason: str, escalation: TicketEvent) -> None:
        self.act(at, agent)
        t = self.t
        from_tier = t.tier
        ticket_enter_tier(t, tier=escalation.data["from_tier"], now=at)
        escalator = escalation.actor
        if escalator is not None and self._tier_of(escalator) <= t.tier:
            t.assignee = escalator
            t.status = Status.OPEN
        self.event(
            at,
            Kind.BOUNCED,
            actor=agent,
            body=reason,
            notify=True,
            data={"from_tier": from_tier, "to_tier": t.tier, "reason": reason},
            refs={"escalation_event_id": escalation},
        )
        self.touch(at)

    def _tier_of(self, user: Any) -> int:
        for tier, team in self.desk.agents.items():
            if user in team:
                return tier
        return 3

    def avoidable(
        self, at: datetime, agent: Any, escalation: TicketEvent, article: Article | None
    ) -> None:
        self.act(at, agent)
        tier = int(escalation.data["from_tier"])
        body = (
            _("Avoidable at Tier %(tier)s: the article “%(title)s” covers it.")
            % {"tier": tier, "title": article.title}
            if article is not None
            else _("Avoidable at Tier %(tier)s: no KB article covers it yet.") % {"tier": tier}
        )
        self.event(
            at,
            Kind.AVOIDABLE,
            actor=agent,
            body=body,
            refs={"escalation_event_id": escalation},
            data={
                "tier": tier,
                "article": article.slug if article else None,
                "missing_article": article is None,
                "escalated_by": escalation.actor.pk,
                "category_id": self.t.category_id,
            },
        )

    def deescalate(self, at: datetime, agent: Any, reason: str) -> None:
        self.act(at, agent)
        t = self.t
        from_tier = t.tier
        ticket_enter_tier(t, tier=from_tier - 1, now=at)
        self.event(
            at,
            Kind.DEESCALATED,
            actor=agent,
            body=reason,
            notify=True,
            data={"from_tier": from_tier, "to_tier": t.tier},
        )
        self.touch(at)

    def _resolve(
        self, at: datetime, *, resolution: str, resolved_by: Any, first_contact: bool
    ) -> None:
        t = self.t
        t.status = Status.RESOLVED
        t.resolution = resolution
        t.resolved_at = at
        t.resolved_by = resolved_by
        t.resolved_tier = t.tier
        t.first_contact_resolution = first_contact
        clock.clock_stop(t)
        t.sla_warn_at = None
        self.touch(at)

    def resolve(self, at: datetime, agent: Any, resolution: str, article: Article | None) -> None:
        self.act(at, agent)
        t = self.t
        t.resolved_article = article
        if t.first_response_at is None:
            t.first_response_at = at
        first_contact = (
            t.tier == 1
            and t.escalation_count == 0
            and t.customer_round_trips == 0
            and t.reopen_count == 0
            and not any(e.kind == Kind.CUSTOMER_REPLY for e in self.events)
        )
        self._resolve(
            at, resolution=self.text(resolution), resolved_by=agent, first_contact=first_contact
        )
        self.event(
            at,
            Kind.RESOLVED,
            actor=agent,
            body=t.resolution,
            is_public=True,
            notify=True,
            data={
                "tier": t.tier,
                "article": article.slug if article else None,
                "first_contact": t.first_contact_resolution,
            },
        )

    def customer_resolve(self, at: datetime) -> None:
        """``portal.ticket_customer_resolve`` on an open ticket: nobody on staff credited."""
        self.advance(at)
        t = self.t
        self._resolve(at, resolution=_(CUSTOMER_CONFIRMED), resolved_by=None, first_contact=False)
        self.event(
            at,
            Kind.RESOLVED,
            actor=self.person.user,
            actor_name=t.requester_name,
            body=t.resolution,
            is_public=True,
            notify=True,
            data={"tier": t.tier, "by_customer": True, "first_contact": False},
        )

    def customer_close(self, at: datetime) -> None:
        """``portal.ticket_customer_resolve`` on a resolved ticket → ``core.ticket_close``."""
        self.advance(at)
        t = self.t
        t.status = Status.CLOSED
        t.closed_at = at
        actor = self.person.user
        self.event(
            at,
            Kind.CLOSED,
            actor=actor,
            actor_name="" if actor else "system",
            body=_(CUSTOMER_CONFIRMED),
            is_public=True,
        )
        self.touch(at)

    def rate(self, at: datetime, rating: int, comment: str) -> None:
        t = self.t
        r = SatisfactionRating(
            ticket=t,
            resolution_round=t.reopen_count,
            rating=rating,
            comment=comment,
            resolved_tier=t.resolved_tier,
            resolved_by=t.resolved_by,
        )
        r.created_at = at
        self.built.ratings.append(r)
        self.event(
            at,
            Kind.CSAT,
            actor=self.person.user,
            actor_name=t.requester_name,
            body=comment,
            is_public=True,
            data={"rating": rating, "round": t.reopen_count},
        )

    # -- Tier 4 (tiers.services.vendor_handoff and the vendor's page) ------------------

    def vendor_handoff(self, at: datetime, agent: Any, summary: str) -> VendorHandoff:
        self.act(at, agent)
        t, vendor = self.t, self.desk.vendor
        calendar = calendar_default()
        handoff = VendorHandoff(
            ticket=t,
            vendor=vendor,
            owner=agent,
            nonce=new_nonce(),
            summary=summary,
            expires_at=at + timedelta(days=settings.VENDOR_LINK_MAX_AGE_DAYS),
            respond_by=add_business_time(calendar, at, vendor.response_target),
            resolve_by=add_business_time(calendar, at, vendor.resolution_target),
        )
        handoff.created_at = handoff.updated_at = at
        self.built.handoffs.append(handoff)
        ticket_enter_tier(t, tier=4, now=at)
        t.status = Status.PENDING_VENDOR
        t.owner = agent
        t.escalation_count += 1
        self.event(
            at,
            Kind.VENDOR_HANDOFF,
            actor=agent,
            body=summary,
            refs={"handoff_id": handoff},
            data={
                "from_tier": 3,
                "to_tier": 4,
                "vendor": f"{vendor.name} ({vendor.company})",
                "vendor_id": vendor.pk,
                "owner": agent.get_username(),
                "respond_by": handoff.respond_by.isoformat(),
                "resolve_by": handoff.resolve_by.isoformat(),
                "manual": True,
            },
        )
        self.touch(at)
        return handoff

    def vendor_update(
        self, at: datetime, handoff: VendorHandoff, body: str, reference: str
    ) -> None:
        if handoff.first_response_at is None:
            handoff.first_response_at = at
            handoff.response_time = at - handoff.created_at
        handoff.vendor_reference = reference
        handoff.updated_at = at
        self.event(
            at,
            Kind.VENDOR_UPDATE,
            actor_name=self._vendor_name(),
            body=body,
            data={"vendor_reference": reference},
            refs={"handoff_id": handoff},
        )
        self.touch(at)

    def vendor_done(self, at: datetime, handoff: VendorHandoff, note: str) -> None:
        t = self.t
        handoff.done_at = at
        handoff.resolution_time = at - handoff.created_at
        handoff.updated_at = at
        ticket_enter_tier(t, tier=3, now=at)
        t.status = Status.OPEN
        t.assignee = handoff.owner
        self.event(
            at,
            Kind.VENDOR_DONE,
            actor_name=self._vendor_name(),
            body=note,
            refs={"handoff_id": handoff},
            data={
                "vendor_reference": handoff.vendor_reference,
                "response_seconds": int(handoff.response_time.total_seconds()),
                "resolution_seconds": int(handoff.resolution_time.total_seconds()),
                "owner": handoff.owner.get_username(),
            },
        )
        self.touch(at)

    def vendor_chased(self, at: datetime, handoff: VendorHandoff) -> None:
        handoff.chased_at = handoff.updated_at = at

    def vendor_overdue(self, at: datetime, handoff: VendorHandoff) -> None:
        """``vendor_followup_sweep``: the vendor missed its response target."""
        handoff.overdue_alerted_at = handoff.updated_at = at
        due = handoff.respond_by
        self.event(
            at,
            Kind.VENDOR_OVERDUE,
            actor_name=TIMER,
            body=_("%(vendor)s missed its %(what)s target (%(due)s).")
            % {"vendor": handoff.vendor.company, "what": "response", "due": due.isoformat()},
            data={"missed": "response", "due": due.isoformat()},
            refs={"handoff_id": handoff},
            dedupe_key="vendor-overdue:{handoff_id}",
        )

    def _vendor_name(self) -> str:
        v = self.desk.vendor
        return f"{v.name} ({v.company})"[:120]

    def finish(self, now: datetime) -> None:
        self.advance(now)
        self.built.tickets.append(self.t)
        self.built.events.extend(self.events)


class HistoryBuilder:
    """Plans and plays the demo desk's tickets; :meth:`write` stores them."""

    def __init__(
        self,
        *,
        now: datetime,
        users: dict[str, Any],
        progress: Callable[[str], None] = lambda _line: None,
    ) -> None:
        self.now = now
        # Not for secrets (those use ``secrets``): a fixed seed makes the desk repeatable.
        self.rng = random.Random(SEED)  # noqa: S311
        self.desk = _Desk(rng=self.rng, users=users)
        self.built = Built()
        self.progress = progress
        self.cutoff = now - QUIET_BEFORE_NOW
        today = timezone.localtime(now).date()
        this_monday = today - timedelta(days=today.weekday())
        #: The dip: the whole week two weeks before this one.
        self.dip_start = self._midnight(this_monday - timedelta(days=14))
        self.dip_end = self.dip_start + timedelta(days=7)
        self.next_pk = 0

    def _midnight(self, day: Any) -> datetime:
        return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())

    # -- planning ------------------------------------------------------------------------

    def _arrivals(self) -> list[tuple[datetime, str]]:
        """(moment, category slug) of every history ticket, oldest first."""
        rng = self.rng
        tier_of = {c[1]: c[2] for c in _categories()}
        slugs = sorted(S.STORIES)
        weights = [{1: 9.0, 2: 4.0, 3: 1.1}[tier_of[s]] for s in slugs]
        out = []
        first_day = timezone.localtime(self.now).date() - timedelta(days=HISTORY_DAYS)
        for offset in range(HISTORY_DAYS + 1):
            day = first_day + timedelta(days=offset)
            weekend = day.weekday() >= 5
            count = WEEKEND_TICKETS if weekend else WEEKDAY_TICKETS
            count += rng.randint(-3, 3) if not weekend else rng.randint(-2, 2)
            start = self._midnight(day)
            dip = self.dip_start <= start < self.dip_end
            if dip and not weekend:
                count += 4  # the MFA change brought extra calls
            for _n in range(max(count, 0)):
                hour = (
                    rng.triangular(6.5, 19.5, 10.5) if rng.random() < 0.93 else rng.uniform(0, 24)
                )
                at = start + timedelta(hours=hour, seconds=rng.randint(0, 59))
                if dip and rng.random() < 0.25:
                    slug = "account-unlock"
                else:
                    slug = rng.choices(slugs, weights)[0]
                out.append((at, slug))
        out.sort()
        return out

    def _tier1_paths(self, arrivals: list[tuple[datetime, str]]) -> list[str]:
        """The path of each Tier 1 arrival, in order. Not a coin flip per ticket: each
        ticket takes the path furthest behind its share so far (with a little jitter
        for variety), so any week-long window holds the table's mix within a ticket or
        two and the dashboard's rate lands where the table says, whatever the day."""
        tier_of = {c[1]: c[2] for c in _categories()}
        given = {regime: dict.fromkeys(TIER1_PATHS, 0.0) for regime in (0, 1)}
        seen = {0: 0, 1: 0}
        out = []
        for at, slug in arrivals:
            if tier_of[slug] != 1:
                continue
            regime = 1 if self.dip_start <= at < self.dip_end else 0
            seen[regime] += 1
            total = sum(w[regime] for w in TIER1_PATHS.values())
            path = max(
                TIER1_PATHS,
                key=lambda p: (
                    TIER1_PATHS[p][regime] / total * seen[regime]
                    - given[regime][p]
                    + self.rng.uniform(0, 0.6)
                ),
            )
            given[regime][path] += 1
            out.append(path)
        return out

    def _priority(self, category: Category) -> tuple[str, str, str]:
        """(priority, urgency, impact) as the portal form maps them (``priority_from``)."""
        rng = self.rng
        levels = ["low", "medium", "high"]
        if category.default_priority:
            return category.default_priority, rng.choice(levels), rng.choice(levels)
        target = rng.choices(["low", "normal", "high", "urgent"], [10, 66, 20, 4])[0]
        pairs = [
            (u, i)
            for u in levels
            for i in levels
            if priority_from(category=category, urgency=u, impact=i) == target
        ]
        urgency, impact = rng.choice(pairs)
        return target, urgency, impact

    def _fill(self) -> dict[str, str]:
        rng = self.rng
        return {
            "app": rng.choice(S.APPS),
            "device": rng.choice(S.DEVICES),
            "site": rng.choice(S.SITES),
            "share": rng.choice(S.SHARES),
            "printer": rng.choice(S.PRINTERS),
            "n": str(rng.randint(10000, 99999)),
        }

    def _life(
        self,
        *,
        slug: str,
        story: S.Story,
        person: Person | None = None,
        priority: tuple[str, str, str] | None = None,
    ) -> tuple[_Life, str, str]:
        category = self.desk.categories[slug]
        person = person or self.desk.requester()
        prio, urgency, impact = priority or self._priority(category)
        fill = {"first": person.first, "agent": "", **self._fill()}
        self.next_pk += 1
        life = _Life(
            self.desk,
            self.built,
            pk=self.next_pk,
            story=story,
            person=person,
            category=category,
            priority=prio,
            fill=fill,
        )
        return life, urgency, impact

    def _submit(self, life: _Life, at: datetime, urgency: str, impact: str) -> None:
        """The form: suggestions shown while typing (logged as deflection rows), some opened."""
        rng, desk = self.rng, self.desk
        shown: list[Article] = []
        opened: list[Article] = []
        if rng.random() < 0.6:
            pool = desk.articles_by_category.get(life.t.category_id, []) or desk.public_articles
            shown = rng.sample(pool, min(len(pool), rng.randint(1, 3)))
            if rng.random() < 0.3:
                opened = [shown[0]]
        life.submit(
            at,
            description=life.customer_message(life.story.description),
            urgency=urgency,
            impact=impact,
            kb_shown=shown,
            kb_opened=opened,
        )
        shown_at = at - timedelta(seconds=rng.randint(60, 300))
        for article in shown:
            d = Deflection(
                session_key=life.t.submission_key,
                article=article,
                ticket=life.t,
                opened_at=shown_at + timedelta(seconds=rng.randint(20, 50))
                if article in opened
                else None,
            )
            d.shown_at = shown_at
            self.built.deflections.append(d)
            if article in opened:
                self._view(article)

    def _view(self, article: Article, n: int = 1) -> None:
        self.built.views[article.pk] = self.built.views.get(article.pk, 0) + n

    # -- building ------------------------------------------------------------------------

    def build(self) -> Built:
        with policies_pinned():
            arrivals = self._arrivals()
            tier1_paths = iter(self._tier1_paths(arrivals))
            total = len(arrivals)
            self.progress(f"history: planning {total:,} tickets over {HISTORY_DAYS} days")
            for i, (at, slug) in enumerate(arrivals, 1):
                category = self.desk.categories[slug]
                if category.entry_tier == 1:
                    path = next(tier1_paths)
                else:
                    table = TIER2_PATHS if category.entry_tier == 2 else TIER3_PATHS
                    path = self.rng.choices(list(table), list(table.values()))[0]
                self._history_ticket(at, slug, path)
                if i % 300 == 0 or i == total:
                    self.progress(f"history: {i:,}/{total:,} tickets")
            self._vendor_stories()
            self._deflected_sessions()
            self._live_queue()
        return self.built

    def _story(self, slug: str, at: datetime) -> S.Story:
        if (
            slug in S.DIP_STORIES
            and self.dip_start <= at < self.dip_end
            and self.rng.random() < 0.7
        ):
            return self.rng.choice(S.DIP_STORIES[slug])
        return self.rng.choice(S.STORIES[slug])

    def _history_ticket(self, at: datetime, slug: str, path: str) -> None:
        story = self._story(slug, at)
        # Plan on a copy of the generator's state: a life that would still be running
        # now is replayed as a quick first-contact fix (or dropped if even that is too
        # long), so every history ticket is finished and the live queue is scripted.
        state = self.rng.getstate()
        pk = self.next_pk
        for attempt in (path, "quick", None):
            if attempt is None:
                self.rng.setstate(state)
                self.next_pk = pk
                return
            self.rng.setstate(state)
            self.next_pk = pk
            built_refs = len(self.built.refs)
            saved = (len(self.built.ratings), len(self.built.deflections), dict(self.built.views))
            life, urgency, impact = self._life(slug=slug, story=story)
            self._submit(life, at, urgency, impact)
            try:
                end = self._play(life, at, attempt)
            except Unplanned:
                end = None
            if end is not None and end <= self.cutoff:
                life.finish(self.now)
                return
            del self.built.refs[built_refs:]
            del self.built.ratings[saved[0] :]
            del self.built.deflections[saved[1] :]
            self.built.views = saved[2]

    def _play(self, life: _Life, at: datetime, path: str) -> datetime:
        """Play ``path`` from ``at``; returns the moment of the last action."""
        desk, rng, story = self.desk, self.rng, life.story
        dip = self.dip_start <= at < self.dip_end
        tier = life.t.tier
        agent = desk.agent(tier)
        life.fill["agent"] = agent.first_name
        article = desk.article(story.article)
        t = life.later(at, 2, 40)
        if path in ("timer",):
            # Nobody picks it up in time (a busy morning): the timer moves it up.
            if rng.random() < 0.5:
                life.claim(t, agent)
                life.reply(
                    life.later(t, 1, 10),
                    agent,
                    life.agent_message(agent, story.question or GENERIC_QUESTION),
                )
            deadline = life.t.escalate_at
            life.advance(deadline + timedelta(seconds=1))
            return self._upper(life, deadline, tier + 1, dip=dip)
        life.claim(t, agent)
        if path in ("fcr", "quick"):
            t = life.later(t, 2, 25)
            life.reply(t, agent, life.agent_message(agent, story.reply))
            if story.note and rng.random() < 0.3:
                life.note(life.later(t, 1, 5), agent, story.note)
            t = life.later(t, 5, 60)
            life.resolve(t, agent, story.resolution, article if rng.random() < 0.6 else None)
            return self._after_resolution(life, t, happy=True)
        if path in ("round_trip", "self_resolved"):
            t = life.later(t, 2, 30)
            life.reply(
                t,
                agent,
                life.agent_message(agent, story.question or GENERIC_QUESTION),
                pending=True,
            )
            t = t + timedelta(minutes=rng.uniform(15, 600))
            if path == "self_resolved":
                life.customer_resolve(t)
                return self._after_resolution(life, t, happy=True)
            life.customer_reply(t, life.customer_message(story.answer or GENERIC_ANSWER))
            t = life.later(t, 5, 60)
            life.reply(t, agent, life.agent_message(agent, story.reply))
            t = life.later(t, 5, 60)
            life.resolve(t, agent, story.resolution, article if rng.random() < 0.5 else None)
            return self._after_resolution(life, t, happy=True)
        if path == "reopened":
            t = life.later(t, 2, 25)
            life.reply(t, agent, life.agent_message(agent, story.reply))
            t = life.later(t, 5, 40)
            life.resolve(t, agent, story.resolution, article)
            t = t + timedelta(hours=rng.uniform(3, 40))
            life.customer_reply(
                t, life.customer_message(story.reopen or rng.choice(GENERIC_REOPEN))
            )
            t = life.later(t, 10, 90)
            life.reply(t, agent, life.agent_message(agent, GENERIC_REOPEN_REPLY))
            t = life.later(t, 5, 60)
            life.resolve(t, agent, story.resolution, article)
            return self._after_resolution(life, t, happy=False)
        if path == "resolved":  # Tier 2/3 entry, fixed where it landed
            t = life.later(t, 5, 60)
            life.reply(t, agent, life.agent_message(agent, story.reply))
            if story.note:
                life.note(life.later(t, 5, 30), agent, story.note)
            t = life.later(t, 30, 300)
            life.resolve(t, agent, story.resolution, article if rng.random() < 0.4 else None)
            return self._after_resolution(life, t, happy=True)
        # Escalating paths: first answer, notes, then the hand-off.
        t = life.later(t, 2, 30)
        life.reply(t, agent, life.agent_message(agent, story.reply))
        if story.note:
            life.note(life.later(t, 2, 10), agent, story.note)
        t = life.later(t, 10, 90)
        handoff = (
            story.handoff
            if story.handoff[0]
            else (
                f"{story.subject.format_map(life.fill)}: not solved by the usual steps.",
                "Followed the first-contact triage script, restarted, checked the account and device.",
                "Needs someone with more access to look deeper.",
            )
        )
        consulted = [story.article] if story.article and rng.random() < 0.7 else []
        if path == "deescalated" and tier == 2:
            life.deescalate(t, agent, rng.choice(S.DEESCALATE_REASONS))
            return self._lower(life, t)
        if path == "to_tier3" and tier == 2:
            escalation = life.escalate(t, agent, handoff, consulted)
            return self._upper(life, t, 3, dip=dip, escalation=escalation)
        escalation = life.escalate(t, agent, handoff, consulted)
        if path == "bounced":
            t2 = desk.agent(2)
            t = life.later(t, 15, 120)
            life.claim(t, t2)
            t = life.later(t, 5, 30)
            life.bounce(t, t2, rng.choice(S.BOUNCE_REASONS), escalation)
            t = life.later(t, 15, 120)
            life.note(t, agent, S.REBUILD_NOTE)
            if rng.random() < 0.5:
                t = life.later(t, 10, 60)
                life.resolve(t, agent, story.resolution, article)
                return self._after_resolution(life, t, happy=False)
            t = life.later(t, 10, 60)
            escalation = life.escalate(t, agent, handoff, consulted)
            return self._upper(life, t, 2, dip=dip, escalation=escalation)
        if path == "deescalated":
            t2 = desk.agent(2)
            t = life.later(t, 15, 120)
            life.claim(t, t2)
            t = life.later(t, 5, 30)
            life.deescalate(t, t2, rng.choice(S.DEESCALATE_REASONS))
            return self._lower(life, t)
        return self._upper(life, t, 2, dip=dip, escalation=escalation, onward=path == "to_tier3")

    def _upper(
        self,
        life: _Life,
        t: datetime,
        tier: int,
        *,
        dip: bool,
        escalation: TicketEvent | None = None,
        onward: bool = False,
    ) -> datetime:
        """The next tier takes over, may mark the escalation avoidable, and fixes it (or
        hands it on to Tier 3 with ``onward``)."""
        rng, story = self.rng, life.story
        agent = self.desk.agent(tier)
        life.fill["agent"] = agent.first_name
        t = life.later(t, 10, 120)
        life.claim(t, agent)
        if (
            escalation is not None
            and escalation.data["from_tier"] == 1
            and rng.random() < (0.6 if dip else 0.3)
        ):
            article = self.desk.article(story.article) if not dip or rng.random() < 0.3 else None
            life.avoidable(life.later(t, 2, 20), agent, escalation, article)
        t = life.later(t, 10, 120)
        life.reply(
            t,
            agent,
            life.agent_message(
                agent,
                "I've picked this up from my colleague and read what they tried. I'm looking into it now and will update you shortly.",
            ),
        )
        if onward and tier == 2:
            t = life.later(t, 30, 180)
            handoff = (
                f"{story.subject.format_map(life.fill)}: fault persists after Tier 2 checks.",
                "Read the Tier 1 hand-off, repeated the checks with admin tools, reviewed the server logs.",
                "Looks like a problem in the service itself, beyond what Tier 2 can change.",
            )
            escalation = life.escalate(t, agent, handoff)
            return self._upper(life, t, 3, dip=dip, escalation=escalation)
        t = life.later(t, 20, 300)
        fix = story.fix or story.resolution
        life.resolve(
            t, agent, fix, self.desk.article(story.article) if rng.random() < 0.3 else None
        )
        return self._after_resolution(life, t, happy=rng.random() < 0.6)

    def _lower(self, life: _Life, t: datetime) -> datetime:
        agent = self.desk.agent(life.t.tier)
        t = life.later(t, 10, 90)
        life.claim(t, agent)
        t = life.later(t, 5, 60)
        life.resolve(t, agent, life.story.resolution, self.desk.article(life.story.article))
        return self._after_resolution(life, t, happy=False)

    def _after_resolution(self, life: _Life, t: datetime, *, happy: bool) -> datetime:
        """A third of customers rate the help; some confirm and close the ticket."""
        rng = self.rng
        end = t
        if rng.random() < 0.36:
            weights = [1, 2, 6, 30, 61] if happy else [5, 9, 18, 38, 30]
            if life.t.sla_breached_at is not None:
                weights = [12, 20, 30, 25, 13]
            rating = rng.choices([1, 2, 3, 4, 5], weights)[0]
            comment = rng.choice(S.CSAT_COMMENTS[rating])
            end = t + timedelta(minutes=rng.uniform(10, 1200))
            life.rate(end, rating, comment)
        if rng.random() < 0.3:
            end = end + timedelta(minutes=rng.uniform(5, 600))
            life.customer_close(end)
        return end

    # -- the two vendor hand-offs ------------------------------------------------------

    def _vendor_stories(self) -> None:
        """One hand-off the vendor answered (40 days ago) and one it is overdue on."""
        desk, rng = self.desk, self.rng
        agent3 = desk.agents[3][0]
        docks = S.STORIES["vendor-hardware"][0]
        life, urgency, impact = self._life(
            slug="vendor-hardware",
            story=docks,
            person=desk.named[0],
            priority=("normal", "medium", "medium"),
        )
        life.fill["agent"] = agent3.first_name
        at = self.now - timedelta(days=40, hours=3)
        self._submit(life, at, urgency, impact)
        t = at + timedelta(minutes=25)
        life.claim(t, agent3)
        life.reply(t + timedelta(minutes=6), agent3, life.agent_message(agent3, docks.reply))
        life.note(t + timedelta(minutes=40), agent3, docks.note)
        t = t + timedelta(hours=2)
        handoff = life.vendor_handoff(t, agent3, S.VENDOR_SUMMARY)
        n = str(rng.randint(40000, 49999))
        life.fill["n"] = "6"
        life.vendor_update(
            t + timedelta(hours=5, minutes=12), handoff, life.text(S.VENDOR_UPDATE), f"NW-{n}"
        )
        life.vendor_done(t + timedelta(days=2, hours=4), handoff, S.VENDOR_DONE.format(n=n))
        t = t + timedelta(days=2, hours=6)
        life.reply(
            t,
            agent3,
            life.agent_message(
                agent3,
                "The supplier has replaced the docks. Could you check your screens stay connected today?",
            ),
        )
        t = t + timedelta(hours=20)
        life.resolve(t, agent3, docks.resolution, None)
        life.rate(t + timedelta(hours=2), 5, "Great that you dealt with the supplier for us.")
        life.finish(self.now)

        storage = S.STORIES["firmware-security-updates"][1]
        life, urgency, impact = self._life(
            slug="firmware-security-updates",
            story=storage,
            person=desk.named[5],
            priority=("high", "high", "medium"),
        )
        life.fill["agent"] = agent3.first_name
        at = self.now - timedelta(days=2, hours=5)
        self._submit(life, at, urgency, impact)
        t = at + timedelta(minutes=12)
        life.claim(t, agent3)
        life.reply(t + timedelta(minutes=5), agent3, life.agent_message(agent3, storage.reply))
        t = t + timedelta(hours=2)
        handoff = life.vendor_handoff(t, agent3, S.OVERDUE_SUMMARY)
        window = handoff.respond_by - handoff.created_at
        life.vendor_chased(handoff.created_at + window * 0.75 + timedelta(seconds=41), handoff)
        life.vendor_overdue(handoff.respond_by + timedelta(seconds=37), handoff)
        life.note(handoff.respond_by + timedelta(hours=3), agent3, S.OVERDUE_NOTE)
        life.finish(self.now)

    # -- the KB's own traffic -------------------------------------------------------------

    def _deflected_sessions(self) -> None:
        """Ticket-form sessions that showed articles and sent no ticket; most opened
        one (a deflected ticket). Plus the KB's organic page views and feedback."""
        rng, desk = self.rng, self.desk
        start = self.now - timedelta(days=HISTORY_DAYS)
        for _session in range(520):
            at = start + timedelta(seconds=rng.uniform(0, HISTORY_DAYS * 86400 - 3600))
            shown = rng.sample(desk.public_articles, rng.randint(1, 3))
            opened = shown[0] if rng.random() < 0.72 else None
            key = secrets.token_urlsafe(32)
            for article in shown:
                d = Deflection(
                    session_key=key,
                    article=article,
                    opened_at=at + timedelta(seconds=rng.randint(15, 90))
                    if article is opened
                    else None,
                )
                d.shown_at = at
                self.built.deflections.append(d)
            if opened is not None:
                self._view(opened)
                if rng.random() < 0.25:
                    f = ArticleFeedback(article=opened, helpful=rng.random() < 0.85)
                    f.created_at = at + timedelta(minutes=rng.uniform(1, 5))
                    self.built.feedback.append(f)
        for article in desk.public_articles:
            self._view(article, rng.randint(30, 260))

    # -- the queue right now --------------------------------------------------------------

    def _live_queue(self) -> None:
        """~20 open tickets across the tiers: some unassigned, some claimed, one waiting
        for the customer, some minutes from their deadline (the first timer promotion
        comes a few minutes after ``make run``). The overdue vendor hand-off is the
        one waiting for a vendor (``_vendor_stories``)."""
        desk, now = self.desk, self.now
        a1, a2, a3 = desk.agents[1][0], desk.agents[2][0], desk.agents[3][0]
        sam, nina = desk.agents[1][1], desk.agents[2][1]  # two of the extra agents
        H, M = timedelta(hours=1), timedelta(minutes=1)

        def open_ticket(
            slug: str,
            idx: int,
            ago: timedelta,
            prio: tuple[str, str, str],
            person: Person | None = None,
        ) -> tuple[_Life, datetime]:
            story = S.STORIES[slug][idx]
            life, urgency, impact = self._life(slug=slug, story=story, person=person, priority=prio)
            at = now - ago
            self._submit(life, at, urgency, impact)
            return life, at

        def msg(life: _Life, agent: Any, body: str) -> str:
            life.fill["agent"] = agent.first_name
            return life.agent_message(agent, body)

        # Tier 1 -------------------------------------------------------------------
        life, at = open_ticket(
            "account-unlock", 0, 27 * M, ("urgent", "high", "high"), desk.named[1]
        )
        life.finish(now)  # unclaimed; 30 min budget: promoted ~3 minutes from now
        life, at = open_ticket(
            "microsoft-365", 0, 2 * H - 6 * M, ("high", "medium", "high"), desk.named[6]
        )
        life.finish(now)  # unclaimed, warned at 75%; promoted ~6 minutes from now
        life, at = open_ticket("password-reset", 2, 8 * H - 9 * M, ("normal", "medium", "medium"))
        life.claim(at + 14 * M, a1)
        life.reply(at + 20 * M, a1, msg(life, a1, life.story.reply))
        life.finish(now)  # claimed by agent1; escalates ~9 minutes from now
        life, at = open_ticket("access-rights", 0, 3 * H, ("normal", "low", "high"), desk.named[2])
        life.finish(now)
        life, at = open_ticket("install-applications", 0, 40 * M, ("normal", "medium", "low"))
        life.finish(now)
        life, at = open_ticket("os-driver-updates", 2, 5 * H, ("low", "low", "low"), desk.named[7])
        life.claim(at + 30 * M, sam)
        life.note(
            at + 35 * M,
            sam,
            "Self Service shows the update as available; checking whether the customer's Mac is enrolled.",
        )
        life.finish(now)
        life, at = open_ticket(
            "endpoint-management", 0, 4 * H, ("normal", "medium", "medium"), desk.named[3]
        )
        life.claim(at + 12 * M, a1)
        life.reply(at + 15 * M, a1, msg(life, a1, life.story.question), pending=True)
        life.finish(now)  # waiting for the customer: the tier clock is paused
        life, at = open_ticket(
            "microsoft-365", 1, 10 * M, ("normal", "medium", "medium"), desk.customer
        )
        life.finish(now)  # the `customer` login's own open ticket
        life, at = open_ticket(
            "account-lifecycle", 0, 50 * M, ("high", "high", "medium"), desk.named[4]
        )
        life.claim(at + 5 * M, a1)
        life.reply(at + 9 * M, a1, msg(life, a1, life.story.reply))
        life.finish(now)
        life, at = open_ticket(
            "access-rights", 1, 4 * H, ("normal", "medium", "medium"), desk.named[8]
        )
        life.claim(at + 10 * M, a1)
        life.reply(at + 16 * M, a1, msg(life, a1, life.story.reply))
        escalation = life.escalate(
            at + 40 * M,
            a1,
            ("Access denied on {share}.", "Signed out and in.", "Probably permissions."),
        )
        life.claim(at + 2 * H, a2)
        life.bounce(at + 2 * H + 10 * M, a2, S.BOUNCE_REASONS[3], escalation)
        life.finish(now)  # bounced back to agent1 with the reason

        # Tier 2 -------------------------------------------------------------------
        life, at = open_ticket(
            "account-unlock", 0, 3 * H, ("normal", "medium", "medium"), desk.named[5]
        )
        life.claim(at + 8 * M, a1)
        life.reply(at + 12 * M, a1, msg(life, a1, life.story.question), pending=True)
        life.customer_reply(at + 40 * M, life.customer_message(life.story.answer))
        life.escalate(
            at + 60 * M,
            a1,
            life.story.handoff,
            ["unlock-your-account", "tier1-script-account-unlock-call"],
        )
        life.finish(now)  # hand-off packet waiting at Tier 2, unassigned
        life, at = open_ticket(
            "os-driver-updates", 0, 8 * H + 40 * M, ("normal", "medium", "medium")
        )
        life.finish(now)  # nobody took it: promoted by the timer 40 minutes ago
        life, at = open_ticket("network", 0, 5 * H, ("normal", "medium", "medium"), desk.named[0])
        life.claim(at + 20 * M, a2)
        life.reply(at + 25 * M, a2, msg(life, a2, life.story.reply))
        life.finish(now)
        life, at = open_ticket(
            "hardware-fault", 1, 4 * H - 7 * M, ("high", "high", "medium"), desk.named[2]
        )
        life.claim(at + 10 * M, a2)
        life.reply(at + 14 * M, a2, msg(life, a2, life.story.reply))
        life.finish(now)  # Tier 2 high, 4 h budget: escalates ~7 minutes from now
        life, at = open_ticket("billing-refunds", 1, 26 * H, ("low", "low", "low"), desk.named[6])
        life.finish(now)
        life, at = open_ticket("backend-server", 1, 6 * H, ("normal", "medium", "medium"))
        life.claim(at + 15 * M, nina)
        life.reply(at + 22 * M, nina, msg(life, nina, life.story.reply))
        life.note(
            at + 80 * M,
            nina,
            "Restarted twice already today; collecting memory graphs of the app pool.",
        )
        life.finish(now)

        # Tier 3 -------------------------------------------------------------------
        life, at = open_ticket(
            "software-bug", 0, 9 * H, ("normal", "medium", "medium"), desk.named[4]
        )
        life.claim(at + 40 * M, a3)
        life.reply(at + 55 * M, a3, msg(life, a3, life.story.reply))
        life.note(at + 2 * H, a3, life.story.note)
        life.finish(now)
        life, at = open_ticket("security", 0, 25 * M, ("urgent", "high", "high"), desk.named[8])
        life.claim(at + 4 * M, a3)
        life.reply(at + 8 * M, a3, msg(life, a3, life.story.reply))
        life.finish(now)
        life, at = open_ticket("server-maintenance", 1, 5 * H, ("normal", "medium", "medium"))
        life.finish(now)
        life, at = open_ticket(
            "support-documentation", 0, 20 * H, ("low", "low", "low"), desk.named[1]
        )
        life.finish(now)

    # -- writing ---------------------------------------------------------------------------

    def write(self) -> dict[str, int]:
        """Insert everything: ids reserved first (events refer to each other and to the
        hand-offs), timestamps restored after ``bulk_create``."""
        b = self.built
        # Ids (and so references) in the order the tickets arrived, events likewise.
        b.tickets.sort(key=lambda t: t.created_at)
        b.events.sort(key=lambda e: e.created_at)
        for ticket, pk in zip(b.tickets, _reserve_ids(Ticket, len(b.tickets)), strict=True):
            ticket.pk = pk
            ticket.reference = Ticket.reference_for(pk)
        for event in b.events:
            if event.dedupe_key:
                event.dedupe_key = _rekey(event.dedupe_key, event.ticket)
        for pk, handoff in zip(
            _reserve_ids(VendorHandoff, len(b.handoffs)), b.handoffs, strict=True
        ):
            handoff.pk = pk
        for pk, event in zip(_reserve_ids(TicketEvent, len(b.events)), b.events, strict=True):
            event.pk = pk
        for event, key, target in b.refs:
            event.data[key] = target.pk
            if event.dedupe_key and "{handoff_id}" in event.dedupe_key:
                event.dedupe_key = event.dedupe_key.replace("{handoff_id}", str(target.pk))
        for obj in (*b.events, *b.ratings, *b.deflections, *b.handoffs):
            obj.ticket_id = obj.ticket.pk if obj.ticket is not None else None
        self.progress(f"history: writing {len(b.tickets):,} tickets and {len(b.events):,} events")
        _bulk(Ticket, b.tickets, ["created_at", "updated_at"])
        _bulk(VendorHandoff, b.handoffs, ["created_at", "updated_at"])
        _bulk(TicketEvent, b.events, ["created_at"])
        _bulk(SatisfactionRating, b.ratings, ["created_at"])
        _bulk(Deflection, b.deflections, ["shown_at"])
        _bulk(ArticleFeedback, b.feedback, ["created_at"])
        for article_id, views in sorted(b.views.items()):
            Article.objects.filter(pk=article_id).update(view_count=F("view_count") + views)
        for helpful, counter in ((True, "helpful_yes"), (False, "helpful_no")):
            counts: dict[int, int] = {}
            for f in b.feedback:
                if f.helpful is helpful:
                    counts[f.article_id] = counts.get(f.article_id, 0) + 1
            for article_id, n in sorted(counts.items()):
                Article.objects.filter(pk=article_id).update(**{counter: F(counter) + n})
        # Views and helpful votes order KB search results, which are cached.
        cache.bump(cache.KB)
        return {
            "tickets": len(b.tickets),
            "events": len(b.events),
            "ratings": len(b.ratings),
            "deflections": len(b.deflections),
            "open": sum(1 for t in b.tickets if t.status in ACTIVE),
        }


def _categories() -> list[tuple]:
    from helpdesk.demo_data import CATEGORIES

    return CATEGORIES


def _rekey(key: str, ticket: Ticket) -> str:
    """Dedupe keys name the ticket id, which was provisional while planning."""
    kind, rest = key.split(":", 1)
    if kind == "warn" or kind == "promote":
        _old, tail = rest.split(":", 1)
        return f"{kind}:{ticket.pk}:{tail}"
    if kind == "sla":
        which, level, _old, due = rest.split(":", 3)
        return f"sla:{which}:{level}:{ticket.pk}:{due}"
    return key


def _reserve_ids(model: type, n: int) -> list[int]:
    """``n`` primary keys for rows inserted with explicit ids: drawn from the table's
    sequence on PostgreSQL (as ``ticket_create`` does), after the largest id elsewhere."""
    if n == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, n],
            )
            return sorted(row[0] for row in cursor.fetchall())
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 - model table name
        first = cursor.fetchone()[0] + 1
    return list(range(first, first + n))


def _bulk(model: type, objs: list, stamps: list[str]) -> None:
    """``bulk_create`` (explicit ids where reserved), then the historic timestamps put
    back: ``auto_now``/``auto_now_add`` set every inserted row to now."""
    if not objs:
        return
    kept = [[getattr(o, name) for name in stamps] for o in objs]
    model.objects.bulk_create(objs, batch_size=2000)
    for o, values in zip(objs, kept, strict=True):
        for name, value in zip(stamps, values, strict=True):
            setattr(o, name, value)
    table = model._meta.db_table
    qn = connection.ops.quote_name
    assignments = ", ".join(f"{qn(name)} = v.{qn(name)}" for name in stamps)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join("%s::timestamptz[]" for _ in stamps)
            cursor.execute(
                f"UPDATE {qn(table)} AS t SET {assignments} "  # noqa: S608 - model metadata
                f"FROM unnest(%s::bigint[], {arrays}) AS v(id, {', '.join(qn(s) for s in stamps)}) "
                "WHERE t.id = v.id",
                [[o.pk for o in objs], *([v[i] for v in kept] for i in range(len(stamps)))],
            )
        else:
            sets = ", ".join(f"{qn(name)} = %s" for name in stamps)
            cursor.executemany(
                f"UPDATE {qn(table)} SET {sets} WHERE id = %s",  # noqa: S608 - model metadata
                [
                    [
                        *(
                            model._meta.get_field(s).get_db_prep_save(v, connection)
                            for s, v in zip(stamps, values, strict=True)
                        ),
                        o.pk,
                    ]
                    for o, values in zip(objs, kept, strict=True)
                ],
            )

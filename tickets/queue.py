"""The agent queue: which tickets a view shows, the filters, and keyset pagination.

Nothing from the request reaches the ORM as a key: every filter and sort is an
allow-listed name mapped here to fields, and every value is parsed and validated.
Pagination is keyset ("seek") on ``(escalate_at, id)`` or ``(created_at, id)``, so
page 500 costs what page 1 costs: an index range scan from the cursor, never OFFSET.

Measured on PostgreSQL with 500,000 tickets (75,000 active, 25,000 in Tier 1's
queue): any page of the default Tier 1 view, deep pages included, is two queries
of under 1 ms each (index scan on ``ticket_queue_live``, then the rows by primary
key); the managers' all-tiers view the same on ``ticket_live_deadline``; a filter
that matches nothing scans the tier's live rows (~300 ms); a search for a common
word ~20 ms (GIN trigram indexes, migration 0004).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core import signing
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from helpdesk.exceptions import DomainError
from tiers.models import Priority
from tiers.selectors import agent_profile_of, user_is_manager

from .models import Ticket, ticket_text_contains
from .selectors import ticket_base_qs, ticket_list_visible_to

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.http import QueryDict

PAGE_SIZE = 50
CURSOR_SALT = "tierdesk.queue.cursor"
REFERENCE_RE = re.compile(r"^TD-\d{1,12}$", re.IGNORECASE)

VIEWS = {
    "tier": _("My tier's queue"),
    "mine": _("My tickets"),
    "all": _("All tiers I can see"),
}
SORTS = {
    "time_left": _("Time left (soonest first)"),
    "newest": _("Newest first"),
    "oldest": _("Oldest first"),
}
SLA_STATES = {"ok": _("On track"), "warning": _("Warning"), "breached": _("Breached")}
AGES = {
    "1h": (_("Under 1 hour"), None, timedelta(hours=1)),
    "1d": (_("Under 1 day"), None, timedelta(days=1)),
    "1to7d": (_("1 to 7 days"), timedelta(days=1), timedelta(days=7)),
    "7d": (_("Older than 7 days"), timedelta(days=7), None),
}
#: Below this share of the tier budget left, the time-left cell turns red.
LOW_TIME_SHARE = 0.25


class QueueError(DomainError):
    pass


@dataclass
class QueueParams:
    """The parsed, validated query string of the queue page."""

    view: str = "tier"
    sort: str = "time_left"
    status: str = ""
    priority: str = ""
    category: int | None = None
    sla: str = ""
    assignee: str = ""  # "", "none", "me" or an agent's user id as text
    age: str = ""
    q: str = ""
    cursor: str = ""
    errors: list[str] = field(default_factory=list)

    def filter_items(self) -> dict[str, str]:
        """The query string without the cursor (for links back to page 1, and bulk forms)."""
        items = {
            "view": self.view,
            "sort": self.sort,
            "status": self.status,
            "priority": self.priority,
            "category": str(self.category) if self.category else "",
            "sla": self.sla,
            "assignee": self.assignee,
            "age": self.age,
            "q": self.q,
        }
        return {k: v for k, v in items.items() if v}


def params_from(query: QueryDict) -> QueueParams:
    """Parse the query string; an unknown value is dropped with a message, not a 500."""
    p = QueueParams()
    errors = p.errors

    def choice(name: str, allowed: dict | set, default: str = "") -> str:
        value = (query.get(name) or "").strip()
        if value and value not in allowed:
            errors.append(_("Ignored an unknown %(name)s.") % {"name": name})
            return default
        return value or default

    p.view = choice("view", VIEWS, "tier")
    p.sort = choice("sort", SORTS, "time_left")
    p.status = choice("status", set(Ticket.Status.values) | {"active"})
    p.priority = choice("priority", set(Priority.values))
    p.sla = choice("sla", SLA_STATES)
    p.age = choice("age", AGES)
    category = (query.get("category") or "").strip()
    if category:
        if category.isdigit() and len(category) < 10:
            p.category = int(category)
        else:
            errors.append(_("Ignored an unknown category."))
    assignee = (query.get("assignee") or "").strip()
    if assignee in ("none", "me") or (assignee.isdigit() and len(assignee) < 10):
        p.assignee = assignee
    elif assignee:
        errors.append(_("Ignored an unknown assignee."))
    p.q = (query.get("q") or "").strip()[:200]
    p.cursor = (query.get("cursor") or "").strip()[:500]
    return p


# ---------------------------------------------------------------------------
# The query
# ---------------------------------------------------------------------------


def _scope(*, user: AbstractBaseUser, view: str) -> QuerySet[Ticket]:
    qs = ticket_list_visible_to(user=user)
    if view == "mine":
        return qs.filter(assignee=user)
    if view == "tier":
        profile = agent_profile_of(user)
        if profile is None:  # a manager without an agent profile (superuser): everything
            return qs
        return qs.filter(Q(assignee__isnull=True) | Q(assignee=user), tier=profile.tier)
    return qs


def _search(qs: QuerySet[Ticket], text: str) -> QuerySet[Ticket]:
    """A reference is an exact (unique index) lookup; an e-mail matches the requester;
    anything else matches the subject or the description (trigram-indexed on PG, in the
    ``TicketSearch`` side table)."""
    if REFERENCE_RE.match(text):
        return qs.filter(reference=text.upper())
    if "@" in text and " " not in text:
        return qs.filter(ticket_text_contains("requester_email", text.lower()))
    return qs.filter(
        ticket_text_contains("subject", text) | ticket_text_contains("description", text)
    )


def _sla_condition(state: str, now: datetime) -> Q:
    breached = Q(sla_breached_at__isnull=False) | Q(resolution_due__lt=now)
    warning = Q(sla_warn_at__lte=now)
    if state == "breached":
        return breached
    if state == "warning":
        return warning & ~breached
    return ~breached & ~warning


def queue_queryset(
    *, user: AbstractBaseUser, params: QueueParams, now: datetime | None = None
) -> QuerySet[Ticket]:
    """The filtered queue, ordered for keyset pagination (without the cursor applied)."""
    now = now or timezone.now()
    qs = _scope(user=user, view=params.view)
    if params.status == "" or params.status == "active":
        qs = qs.filter(status__in=Ticket.ACTIVE_STATUSES)
    else:
        qs = qs.filter(status=params.status)
    if params.priority:
        qs = qs.filter(priority=params.priority)
    if params.category:
        qs = qs.filter(category_id=params.category)
    if params.sla:
        qs = qs.filter(_sla_condition(params.sla, now))
    if params.assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif params.assignee == "me":
        qs = qs.filter(assignee=user)
    elif params.assignee:
        qs = qs.filter(assignee_id=int(params.assignee))
    if params.age:
        _label, older_than, younger_than = AGES[params.age]
        if older_than is not None:
            qs = qs.filter(created_at__lte=now - older_than)
        if younger_than is not None:
            qs = qs.filter(created_at__gt=now - younger_than)
    if params.q:
        qs = _search(qs, params.q)
    return qs.order_by(*_ordering(params.sort))


def _ordering(sort: str) -> list:
    if sort == "newest":
        return ["-created_at", "-id"]
    if sort == "oldest":
        return ["created_at", "id"]
    return [F("escalate_at").asc(nulls_last=True), "id"]


def _cursor_value(ticket: Ticket, sort: str) -> str | None:
    value = ticket.escalate_at if sort == "time_left" else ticket.created_at
    return value.isoformat() if value else None


def cursor_encode(ticket: Ticket, sort: str) -> str:
    # Signed so that a hand-edited cursor is a clear 400, not an odd page.
    return signing.dumps(
        {"s": sort, "v": _cursor_value(ticket, sort), "id": ticket.pk},
        salt=CURSOR_SALT,
        compress=True,
    )


def _cursor_decode(cursor: str, sort: str) -> tuple[datetime | None, int]:
    try:
        data = signing.loads(cursor, salt=CURSOR_SALT)
        if data["s"] != sort or not isinstance(data["id"], int):
            raise ValueError
        value = parse_datetime(data["v"]) if data["v"] is not None else None
        if data["v"] is not None and value is None:
            raise ValueError
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise QueueError(
            _("This page link is no longer valid; start from the first page.")
        ) from exc
    return value, data["id"]


def _after(qs: QuerySet[Ticket], *, sort: str, value: datetime | None, pk: int) -> QuerySet[Ticket]:
    """Rows strictly after the cursor row, in page order. Written as ``col >= v AND
    (col > v OR id > pk)`` rather than an OR of the two cases: the first conjunct is an
    index range condition, the second only drops the ties (PostgreSQL cannot seek on
    ``col > v OR (col = v AND id > pk)``)."""
    if sort == "newest":
        return qs.filter(Q(created_at__lt=value) | Q(id__lt=pk), created_at__lte=value)
    if sort == "oldest":
        return qs.filter(Q(created_at__gt=value) | Q(id__gt=pk), created_at__gte=value)
    if value is None:  # already in the NULL tail
        return qs.filter(escalate_at__isnull=True, id__gt=pk)
    return qs.filter(Q(escalate_at__gt=value) | Q(id__gt=pk), escalate_at__gte=value)


@dataclass
class QueueRow:
    ticket: Ticket
    time_left: timedelta | None
    time_low: bool
    clock_note: str

    @property
    def overdue_by(self) -> timedelta | None:
        """How late the escalation is (the sweep has not acted yet), else ``None``."""
        if self.time_left is None or self.time_left > timedelta(0):
            return None
        return -self.time_left


@dataclass
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str | None
    is_first: bool


def clock_note(ticket: Ticket) -> str:
    """Why a ticket has no escalation deadline (``escalate_at`` is NULL)."""
    if ticket.status == Ticket.Status.PENDING_CUSTOMER or ticket.clock_paused_at:
        return _("paused: waiting for customer")
    if ticket.status == Ticket.Status.PENDING_VENDOR or ticket.tier >= 4:
        return _("with vendor")
    if ticket.status in Ticket.DONE_STATUSES:
        return _("stopped: %(status)s") % {"status": ticket.get_status_display().lower()}
    return _("no budget")


def row_for(ticket: Ticket, now: datetime) -> QueueRow:
    if ticket.escalate_at is None:
        return QueueRow(ticket, None, False, clock_note(ticket))
    left = ticket.escalate_at - now
    budget = ticket.tier_budget
    low = left <= timedelta(0) or bool(budget and left < budget * LOW_TIME_SHARE)
    return QueueRow(ticket, left, low, "")


def _time_left_ids(qs: QuerySet[Ticket], *, after: tuple[datetime | None, int] | None) -> list[int]:
    """Deadline order, NULLS LAST, as two index range scans: tickets with a deadline
    in ``(escalate_at, id)`` order, then (only when that runs out within the page) the
    ones without, in id order."""
    ids: list[int] = []
    in_null_tail = after is not None and after[0] is None
    if not in_null_tail:
        timed = qs.filter(escalate_at__isnull=False)
        if after is not None:
            timed = _after(timed, sort="time_left", value=after[0], pk=after[1])
        ids = list(
            timed.order_by("escalate_at", "id").values_list("pk", flat=True)[: PAGE_SIZE + 1]
        )
    if len(ids) <= PAGE_SIZE:
        untimed = qs.filter(escalate_at__isnull=True)
        if after is not None and in_null_tail:
            untimed = untimed.filter(id__gt=after[1])
        # Ordered as the index is (escalate_at is constant here): the planner then walks
        # ticket_queue_live / ticket_live_deadline instead of the whole primary key.
        ids += list(
            untimed.order_by("escalate_at", "id").values_list("pk", flat=True)[
                : PAGE_SIZE + 1 - len(ids)
            ]
        )
    return ids


def _load(ids: list[int]) -> list[Ticket]:
    """The rows of one page, with their relations, in the order of ``ids``.

    Paging selects ids only (no joins), so PostgreSQL walks the index in order and
    stops at the limit; joining first lets a misestimate turn that into a full sort."""
    by_id = {t.pk: t for t in ticket_base_qs().filter(pk__in=ids)}
    return [by_id[i] for i in ids if i in by_id]


def queue_page(
    *, user: AbstractBaseUser, params: QueueParams, now: datetime | None = None
) -> QueuePage:
    """One page of the queue: ``PAGE_SIZE`` rows after ``params.cursor``. Two queries
    (ids, then rows), three where the deadline part of the queue ends mid-page."""
    now = now or timezone.now()
    qs = queue_queryset(user=user, params=params, now=now)
    value, pk = None, 0
    if params.cursor:
        value, pk = _cursor_decode(params.cursor, params.sort)
        if params.sort != "time_left" and value is None:
            raise QueueError(_("This page link is no longer valid; start from the first page."))
        if params.sort != "time_left":
            qs = _after(qs, sort=params.sort, value=value, pk=pk)
    if params.sort == "time_left":
        ids = _time_left_ids(qs, after=(value, pk) if params.cursor else None)
    else:
        ids = list(qs.values_list("pk", flat=True)[: PAGE_SIZE + 1])
    more = len(ids) > PAGE_SIZE
    tickets = _load(ids[:PAGE_SIZE])
    return QueuePage(
        rows=[row_for(t, now) for t in tickets],
        next_cursor=cursor_encode(tickets[-1], params.sort) if more else None,
        is_first=not params.cursor,
    )


def queue_assignee_choices(*, user: AbstractBaseUser) -> list[tuple[str, str]]:
    """Agents offered in the assignee filter: those the user's queue can show."""
    from tiers.models import AgentProfile

    qs = AgentProfile.objects.filter(is_active=True).select_related("user")
    if not user_is_manager(user):
        profile = agent_profile_of(user)
        qs = qs.filter(tier__lte=profile.tier if profile else 0)
    return [(str(p.user_id), p.user.get_username()) for p in qs.order_by("tier", "user__username")]


def bulk_queryset(*, user: AbstractBaseUser, references: list[str]) -> QuerySet[Ticket]:
    """The selected tickets, re-checked against what the user may see."""
    clean = [r.upper() for r in references if REFERENCE_RE.match(r)][:PAGE_SIZE]
    return ticket_list_visible_to(user=user).filter(reference__in=clean).order_by("id")


def as_query_params(items: dict[str, Any]) -> str:
    from django.utils.http import urlencode

    return urlencode(items)

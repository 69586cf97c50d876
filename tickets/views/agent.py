"""The agent workspace: tier queue, ticket page, actions and notifications.

Views are thin: they parse and validate input, fetch the ticket through the access
selectors, and call one service. A refused action re-renders the ticket page with
the message and what the agent typed (status 400/409); a forbidden one is a 403.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import wraps
from html import escape as html_escape
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import get_template, render_to_string
from django.urls import NoReverseMatch, reverse, reverse_lazy
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from helpdesk import fragments, sqlcache
from helpdesk.exceptions import DomainError, ForbiddenError
from helpdesk.markdown import render_markdown_many
from knowledgebase import cache as kb_cache
from knowledgebase.selectors import article_list_visible_to, article_suggest
from tiers.models import AgentProfile, Priority
from tiers.selectors import agent_profile_of, user_is_manager, user_max_tier

from .. import pagecache, versions
from .. import queue as q
from ..forms import clean_text
from ..models import CannedResponse, Category, Notification, Ticket, TicketEvent
from ..selectors import (
    newest_event_id,
    ticket_attachments,
    ticket_get_visible_to,
    ticket_list_visible_to,
    ticket_timeline,
    user_can_act_on,
)
from ..services import agent as svc
from ..services import core

Kind = TicketEvent.Kind
MAX_TEXT = 20000
#: Event kinds whose ``data`` explains a timer decision; shown as a small table.
EXPLAINED_KINDS = {
    Kind.PROMOTED,
    Kind.TIER_WARNING,
    Kind.SLA_WARNING,
    Kind.SLA_BREACH,
    Kind.VENDOR_HANDOFF,
    Kind.VENDOR_OVERDUE,
}
MOVE_KINDS = {Kind.ESCALATED, Kind.PROMOTED, Kind.DEESCALATED, Kind.BOUNCED}
#: The ticket page's own links and form actions (``tickets:agent-<name>``).
TICKET_URLS = (
    "ticket",
    "presence",
    "typing",
    "claim",
    "unclaim",
    "assign",
    "reply",
    "status",
    "priority",
    "escalate",
    "bounce",
    "avoidable",
    "deescalate",
    "resolve",
    "merge",
    "grant",
)

#: How many suggested articles the page lists, and its article pickers offer before
#: the agent searches the KB (static/js/agent.js, ``/api/v1/kb/suggest/``).
SUGGESTED_ARTICLES = 8
#: The views whose refused POST re-renders an article picker, and which picker.
PICKER_VIEWS = {
    "agent-escalate": "escalate",
    "agent-avoidable": "avoidable",
    "agent-resolve": "resolve",
}
KB_SUGGEST_URL = reverse_lazy("api-kb-suggest")

logger = logging.getLogger(__name__)


def agent_required(view: Callable) -> Callable:
    """Only help-desk staff (agents, managers) reach /agent/; customers get 403."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs):
        if agent_profile_of(request.user) is None and not user_is_manager(request.user):
            raise PermissionDenied("The agent workspace is for help-desk staff.")
        return view(request, *args, **kwargs)

    return wrapper


def _text(request: HttpRequest, name: str, limit: int = MAX_TEXT) -> str:
    """A posted text field; too long is refused with a message (the page keeps what
    was typed), never cut short without the agent knowing."""
    # The portal's rule: NULs dropped, invisible-only text counts as empty.
    value = clean_text(request.POST.get(name))
    if len(value) > limit:
        raise core.TicketError(
            f"This text is {len(value):,} characters long; the most is {limit:,}. "
            "Shorten it or attach the rest as a file.",
            field=name,
        )
    return value


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


# ---------------------------------------------------------------------------
# Queue
# ---------------------------------------------------------------------------


#: The rows fragment is cached per 5-second slice of the clock (the page's htmx
#: refresh period): the server-rendered "time left" text is at most that old, and
#: static/js/countdown.js keeps it current in the browser from ``data-deadline``.
ROWS_CACHE_SECONDS = 5
#: The filter form changes only with the directory version; this is a backstop.
FILTERS_CACHE_SECONDS = 600
#: The agent profile decides access. Its entry is short-lived so that a deactivation
#: whose version bump was lost (Redis unreachable at that moment, but not emptied)
#: still takes effect within seconds.
PROFILE_CACHE_SECONDS = 10


class _QueueScope:
    """Who is asking, as far as the cached queue pieces depend on it."""

    def __init__(self, request: HttpRequest) -> None:
        self.user = request.user
        self.profile = agent_profile_of(self.user)
        self.manager = user_is_manager(self.user)
        self.tier = self.profile.tier if self.profile else 0
        #: Stored in each cached piece and compared on reading: a piece computed
        #: before the user's tier or role changed is not used.
        self.tag = f"{self.tier}:{'m' if self.manager else 'a'}"


def _rows_key(user_id: int, poll_qs: str, now: Any) -> str:
    """Besides the tickets version and the scope (both stored in the entry), the rows
    depend on the clock slice, the user (its own claims: no one else ever reads this
    entry) and the normalized query string (filters and cursor)."""
    slice_ = int(now.timestamp()) // ROWS_CACHE_SECONDS
    return f"queue-rows:{slice_}:{user_id}:{pagecache.text_digest(poll_qs)}"


def _filters_key(user_id: int, filters_qs: str) -> str:
    """Besides the directory version and the scope (in the entry: which agents the
    assignee filter offers), the filter form depends on the selected values."""
    return f"queue-filters:{user_id}:{pagecache.text_digest(filters_qs)}"


def _in_scope(payload: Any, scope: _QueueScope) -> Any | None:
    if isinstance(payload, dict) and payload.get("scope") == scope.tag:
        return payload
    return None


def _render_rows(scope: _QueueScope, params: q.QueueParams, now: Any) -> dict[str, Any]:
    """The ``<tbody>`` of the queue and its paging. Raises ``QueueError`` for a bad
    cursor. Holds no CSRF token (the Claim buttons submit the page's one
    ``claim-form``) and nothing of the layout, so it can be cached."""
    page = q.queue_page(user=scope.user, params=params, now=now)
    html = render_to_string(
        "tickets/agent/_queue_rows.html",
        {
            # Escaped value by value in rows_html.
            "rows_html": mark_safe(q.rows_html(page, show_tier=params.view == "all")),
            "filters_qs": q.as_query_params(params.filter_items()),
            "poll_qs": _poll_qs(params),
        },
    )
    return {
        "scope": scope.tag,
        "html": html,
        "next_cursor": page.next_cursor,
        "is_first": page.is_first,
        "page": page,
    }


def _poll_qs(params: q.QueueParams) -> str:
    filters = params.filter_items()
    return q.as_query_params({**filters, "cursor": params.cursor} if params.cursor else filters)


def _render_filters(scope: _QueueScope, params: q.QueueParams) -> str:
    return render_to_string(
        "tickets/agent/_queue_filters.html",
        {
            "params": params,
            "sorts": q.SORTS,
            "statuses": [("active", "All active"), *Ticket.Status.choices],
            "priorities": Priority.choices,
            "sla_states": q.SLA_STATES,
            "ages": {k: v[0] for k, v in q.AGES.items()},
            "categories": Category.objects.only("id", "name"),
            "assignees": q.queue_assignee_choices(user=scope.user),
        },
    )


def _count_unread(user: Any) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def _unread_count(user: Any) -> int:
    """The bell's count, cached per user until a notification of theirs is written."""
    return versions.unread_count(user, lambda: _count_unread(user))


def _cached_unread(user: Any, current: dict | None, found: dict) -> int:
    """The bell's count from the entry a view fetched with its counters (one round
    trip: ``versions.notif_key`` among ``current``, ``versions.unread_key`` among
    ``found``), or counted and stored for the next page."""
    key, counter = versions.unread_key(user.pk), versions.notif_key(user.pk)
    unread = versions.valid(found.get(key), current[counter]) if current else None
    if unread is None:
        unread = _count_unread(user)
        if current:
            versions.store(key, current[counter], unread, versions.UNREAD_TTL)
    return unread


#: Cached in place of a profile for a user that has none (a superuser manager).
_NO_PROFILE = "none"


@require_GET
@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """The queue (agents and managers; others get 403). Four pieces are cached, each
    valid for the version counter it depends on (tickets/versions.py) and, for the
    rows and the filter form, the scope it was computed for: the agent profile, the
    rows, the filter form and the bell count; the counters and the pieces come in one
    cache round trip. The layout and the CSRF token are never cached. With the cache
    down every piece is computed."""
    user = request.user
    params = q.params_from(request.GET)
    partial = request.GET.get("partial") == "rows"
    now = timezone.now()
    filters_qs = q.as_query_params(params.filter_items())
    keys = {
        "profile": f"agent-profile:{user.pk}",
        "rows": _rows_key(user.pk, _poll_qs(params), now),
        "filters": _filters_key(user.pk, filters_qs),
        "unread": versions.unread_key(user.pk),
    }
    notif = versions.notif_key(user.pk)
    if partial:
        del keys["filters"], keys["unread"]
    # One round trip: the version counters and every cached piece (each stored with
    # the version it was computed at). With the cache down (current is None) every
    # piece is computed and nothing is stored.
    current, found = versions.fetch(
        [versions.TICKETS_KEY, versions.DIRECTORY_KEY, notif], keys.values()
    )

    def cached(name: str, counter: str) -> Any | None:
        return versions.valid(found.get(keys[name]), current[counter]) if current else None

    # The agent profile decides access and scope. It is cached under the directory
    # version, which every profile and user write bumps after commit: a deactivated
    # agent is refused on its next request.
    _cached_profile(user, current, found)
    if agent_profile_of(user) is None and not user_is_manager(user):
        raise PermissionDenied("The agent workspace is for help-desk staff.")
    scope = _QueueScope(request)

    status = 200
    rows = _in_scope(cached("rows", versions.TICKETS_KEY), scope)
    if rows is None:
        try:
            rows = _render_rows(scope, params, now)
        except q.QueueError as exc:
            # A stale or hand-edited cursor: say so, and show the first page.
            params.errors.append(exc.message)
            params.cursor = ""
            rows = _render_rows(scope, params, now)
            keys["rows"] = _rows_key(user.pk, _poll_qs(params), now)
            status = 400
        if current:
            entry = {k: v for k, v in rows.items() if k != "page"}
            versions.store(keys["rows"], current[versions.TICKETS_KEY], entry, ROWS_CACHE_SECONDS)
    if partial:
        # The htmx poll: only the rows, same query string, so filters and page stay.
        return HttpResponse(rows["html"], status=status)

    filters = _in_scope(cached("filters", versions.DIRECTORY_KEY), scope)
    if filters is None:
        filters = {"scope": scope.tag, "html": _render_filters(scope, params)}
        if current:
            versions.store(
                keys["filters"], current[versions.DIRECTORY_KEY], filters, FILTERS_CACHE_SECONDS
            )
    unread = _cached_unread(user, current, found)

    next_cursor = rows["next_cursor"]
    context = {
        # Both rendered (autoescaped) from our templates here, maybe via the cache.
        "rows_html": mark_safe(rows["html"]),
        "filters_html": mark_safe(filters["html"]),
        "server_time_ms": int(time.time() * 1000),
        "page": rows.get("page"),  # only when computed here (tests, debugging)
        "next_cursor": next_cursor,
        "is_first": rows["is_first"],
        "params": params,
        "filters_qs": filters_qs,
        "next_qs": q.as_query_params({**params.filter_items(), "cursor": next_cursor})
        if next_cursor
        else "",
        "tier": scope.profile.tier if scope.profile else None,
        "views": q.VIEWS,
        "priorities": Priority.choices,
        "bulk_actions": svc.BULK_ACTIONS,
        "unread": unread,
    }
    return render(request, "tickets/agent/queue.html", context, status=status)


@require_POST
@agent_required
def queue_bulk(request: HttpRequest) -> HttpResponse:
    # Back to the same filtered queue: the query string is re-parsed, never echoed.
    params = q.params_from(QueryDict((request.POST.get("qs") or "")[:2000]))
    back = reverse("tickets:agent-queue") + "?" + q.as_query_params(params.filter_items())
    references = request.POST.getlist("tickets")
    action = request.POST.get("action", "")
    priority = request.POST.get("priority", "")
    if action == "priority" and priority not in Priority.values:
        messages.error(request, "Choose the new priority.")
        return redirect(back)
    tickets = list(q.bulk_queryset(user=request.user, references=references))
    if not tickets:
        messages.error(request, "Select at least one ticket.")
        return redirect(back)
    try:
        result = svc.tickets_bulk_act(
            tickets=tickets, actor=request.user, action=action, priority=priority
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    if result.done:
        messages.success(request, f"{svc.BULK_ACTIONS[action]}: {', '.join(result.done)}.")
    for failure in result.failed:
        messages.error(request, failure)
    return redirect(back)


# ---------------------------------------------------------------------------
# Ticket page
# ---------------------------------------------------------------------------


def _canned_class(user: Any) -> str:
    # What decides the canned responses (svc.canned_responses_for): managers all, an
    # agent its own tier. Not the KB's visibility class: a Tier 3 agent reads Tier 4 articles (and
    # tickets) but not the Tier 4 canned texts.
    if user_is_manager(user):
        return "all"
    profile = agent_profile_of(user)
    return str(profile.tier if profile else 0)


def _shared_pieces(
    user: Any, ticket: Ticket, *, workable: bool, with_canned: bool
) -> dict[str, Any]:
    """What the ticket page shows that is the same for every agent of a visibility
    class (tier, manager), in two cache round trips (version tokens, then the pieces):

    - ``suggestions``: the articles suggested for the ticket's text (~8 ms of ranking),
      keyed by a digest of that text; they are also what the three article pickers
      offer before the agent searches the KB from the page;
    - ``agents``: (user id, username, tier, manager) of every active agent;
    - ``canned``: the canned responses of the reader's tier.

    Each key carries the version of its data, replaced by every write of it
    (``tickets.pagecache``); nothing here is per user, carries a form or a token."""
    tokens = pagecache.versions("kb", "agents", "canned")
    kb, group = tokens["kb"], kb_cache.visibility_class(user)
    text = f"{ticket.subject} {ticket.description[:500]}"

    def key(name: str, token: str | None, *parts: str) -> str | None:
        return ":".join(["agent", name, token, group, *parts]) if token else None

    pieces: dict[str, tuple[str | None, Any]] = {
        "suggestions": (
            # A new name: entries cached under the former "suggest" key have no slug.
            key("suggestions", kb, pagecache.text_digest(text)),
            lambda: [
                {
                    "slug": a.slug,
                    "title": a.title,
                    "url": a.get_absolute_url(),
                    "audience": a.audience,
                }
                for a in article_suggest(user=user, text=text, limit=SUGGESTED_ARTICLES)
            ],
        )
    }
    if workable:
        # Every active agent as (user id, tier, manager, reassign option, grant option):
        # plain tuples with the HTML escaped once, not 200 profile + user objects.
        pieces["agents"] = (
            key("agents", tokens["agents"]),
            lambda: [
                (
                    uid,
                    tier,
                    manager,
                    _options([(uid, f"{name} (Tier {tier}{', manager' if manager else ''})")]),
                    _options([(uid, f"{name} (Tier {tier})")]),
                )
                for uid, name, tier, manager in AgentProfile.objects.filter(is_active=True)
                .order_by("tier", "user__username")
                .values_list("user_id", "user__username", "tier", "is_manager")
            ],
        )
    if with_canned:
        pieces["canned"] = (
            key("canned", tokens["canned"], _canned_class(user)),
            # Plain values, not pickled model instances (a schema change would not
            # survive in the cache).
            lambda: [(c.pk, c.title, c.body) for c in svc.canned_responses_for(user=user)],
        )
    return pagecache.cached_many(pieces)


def _article_picks(request: HttpRequest) -> dict[str, list[str]]:
    """The slugs a refused POST picked, by the picker they came from (``escalate``,
    ``avoidable``, ``resolve``): avoidable and resolve both post ``article``, so
    the view that refused it tells which picker keeps the pick."""
    if request.method != "POST" or request.resolver_match is None:
        return {}
    picker = PICKER_VIEWS.get(request.resolver_match.url_name or "")
    if picker == "escalate":
        slugs = [s.strip()[:200] for s in request.POST.getlist("articles")[:20]]
    elif picker:
        slugs = [(request.POST.get("article") or "").strip()[:200]]
    else:
        return {}
    return {picker: [s for s in dict.fromkeys(slugs) if s]}


def _article_pickers(
    user: Any, suggestions: list[dict[str, Any]], picks: dict[str, list[str]]
) -> dict[str, SafeString]:
    """The ``<option>``s of each article picker: the suggested articles, and after a
    refused POST the agent's picks, selected (an article found by searching from the
    page is not among the suggestions: its title costs one query, then only)."""
    suggested = [(a["slug"], a["title"]) for a in suggestions]
    listed = {slug for slug, _title in suggested}
    missing = {s for slugs in picks.values() for s in slugs if s not in listed}
    titles = (
        dict(
            article_list_visible_to(user=user)
            .filter(slug__in=missing)
            .order_by()
            .values_list("slug", "title")
        )
        if missing
        else {}
    )
    pickers = {}
    for picker in ("escalate", "avoidable", "resolve"):
        chosen = picks.get(picker, [])
        extra = [(s, titles[s]) for s in chosen if s in titles]
        pickers[picker] = mark_safe(  # values and labels escaped here
            "".join(
                f'<option value="{html_escape(slug)}"{" selected" if slug in chosen else ""}>'
                f"{html_escape(title)}</option>"
                for slug, title in [*extra, *suggested]
            )
        )
    return pickers


def _options(items: Any) -> str:
    """``<option>``s built in Python: every active agent, twice, costs milliseconds
    through the template engine. Values and labels are escaped here (``html.escape``
    with quotes, as Django's ``escape``)."""
    return "".join(
        f'<option value="{html_escape(str(value))}">{html_escape(str(label))}</option>'
        for value, label in items
    )


def _vendor_handoff_url(ticket: Ticket) -> str | None:
    # The vendor hand-off view lives in ``tiers`` and may not be installed.
    try:
        return reverse("tiers:handoff-create", kwargs={"reference": ticket.reference})
    except NoReverseMatch:
        return None


def _ticket_context(request: HttpRequest, ticket: Ticket, **extra: Any) -> dict[str, Any]:
    user = request.user
    is_manager = user_is_manager(user)
    attachments = list(ticket_attachments(ticket=ticket, public_only=False))
    by_event: dict[int, list] = {}
    for a in attachments:
        a.url = pagecache.url_for("tickets:attachment", "pk", a.pk)
        if a.event_id:
            by_event.setdefault(a.event_id, []).append(a)
    # Attachments come from the list above (one query) instead of a prefetch.
    events = list(ticket_timeline(ticket=ticket, public_only=False).prefetch_related(None))
    # Every body rendered once and shared: one cache round trip for the whole timeline.
    bodies = render_markdown_many(e.body for e in events)
    last_move = None
    pinned = None
    kinds = pagecache.labels(Kind)
    statuses = pagecache.labels(Ticket.Status)
    for event in events:
        event.kind_label = kinds.get(event.kind, event.kind)
        event.files = by_event.get(event.pk, [])
        event.body_html = bodies.get(event.body, "")
        event.explained = event.kind in EXPLAINED_KINDS and bool(event.data)
        if event.kind in MOVE_KINDS:
            last_move = event
        if event.kind == Kind.ESCALATED and event.data.get("to_tier", 0) <= ticket.tier:
            pinned = event
    if ticket.tier <= 1 or ticket.escalation_count == 0:
        pinned = None
    received = (
        last_move
        if last_move is not None
        and last_move.kind == Kind.ESCALATED
        and last_move.data.get("to_tier") == ticket.tier
        else None
    )
    avoidable_done = received is not None and any(
        e.kind == Kind.AVOIDABLE and e.data.get("escalation_event_id") == received.pk
        for e in events
    )
    can_act = user_can_act_on(user=user, ticket=ticket)
    # The action forms (and the lists they offer) exist only while the agent can act
    # on a live ticket; a resolved ticket's page skips those queries.
    workable = can_act and ticket.is_active
    shared = _shared_pieces(
        user,
        ticket,
        workable=workable,
        with_canned=can_act and ticket.status != Ticket.Status.CLOSED,
    )
    pickers = _article_pickers(
        user, shared["suggestions"], _article_picks(request) if workable else {}
    )
    agents = shared.get("agents", [])
    canned = [CannedResponse(pk=pk, title=t, body=b) for pk, t, b in shared.get("canned", [])]
    min_tier = min(ticket.tier, 3)
    canned_id = _int(request.GET.get("canned"))
    prefill = ""
    if canned_id:
        chosen = next((c for c in canned if c.pk == canned_id), None)
        if chosen is not None:
            prefill = svc.canned_response_render(canned=chosen, ticket=ticket, agent=user)
    others = list(
        ticket_list_visible_to(user=user)
        .select_related(None)
        .filter(requester_email=ticket.requester_email)
        .exclude(pk=ticket.pk)
        .only("id", "reference", "subject", "status", "created_at")
        .order_by("-created_at")[:10]
    )
    for o in others:
        o.url = pagecache.url_for("tickets:agent-ticket", "reference", o.reference)
        o.status_label = statuses.get(o.status, o.status)
    now = timezone.now()
    post = request.POST if request.method == "POST" else {}
    draft = svc.draft_article_service() is not None
    context = {
        "ticket": ticket,
        "urls": {
            name: pagecache.url_for(f"tickets:agent-{name}", "reference", ticket.reference)
            for name in TICKET_URLS
        },
        "timeline": events,
        "last_event_id": events[-1].pk if events else 0,
        "pinned": pinned,
        "received": received,
        "avoidable_done": avoidable_done,
        "can_act": can_act,
        "is_manager": is_manager,
        "attachments": attachments,
        "others": others,
        "suggestions": shared["suggestions"],
        "escalate_options": pickers["escalate"],
        "avoidable_options": pickers["avoidable"],
        "resolve_options": pickers["resolve"],
        "kb_suggest_url": KB_SUGGEST_URL,
        "assignable": mark_safe(  # options escaped by _options
            "".join(
                option
                for uid, tier, manager, option, _grant in agents
                if (tier >= min_tier or manager) and uid != ticket.assignee_id
            )
        ),
        "grantable": mark_safe(  # options escaped by _options
            "".join(
                grant
                for _uid, tier, manager, _option, grant in agents
                if tier < ticket.tier and not manager
            )
        ),
        "canned": [
            {
                "pk": c.pk,
                "title": c.title,
                "text": svc.canned_response_render(canned=c, ticket=ticket, agent=user),
            }
            for c in canned
        ],
        "prefill": prefill,
        "status_label": statuses.get(ticket.status, ticket.status),
        "priority_label": pagecache.labels(Priority).get(ticket.priority, ticket.priority),
        "status_choices": [
            (s, statuses.get(s, s))
            for s in sorted(core.AGENT_STATUS_CHANGES.get(ticket.status, ()))
        ],
        "priorities": list(pagecache.labels(Priority).items()),
        "vendor_handoff_url": _vendor_handoff_url(ticket) if ticket.tier == 3 else None,
        # Only vendor tickets (Tier 4, or with an accountable owner) can hold a live link.
        "active_handoff": (
            ticket.vendor_handoffs.filter(revoked_at__isnull=True)
            .select_related("vendor")
            .order_by("-created_at")
            .first()
            if ticket.tier == 4 or ticket.owner_id
            else None
        ),
        "draft_available": draft,
        "tier_clock": q.row_for(ticket, now),
        "sla_breached": bool(
            ticket.sla_breached_at
            or (ticket.resolution_due and ticket.resolution_due < now and ticket.is_active)
        ),
        "lower_tiers": range(1, ticket.tier),
        "post": post,
    }
    context.update(extra)
    return context


#: The cached main block is valid for one minute of the clock at most (it shows clocks
#: and "time left"); the key carries the minute, the TTL only frees memory.
PAGE_CACHE_SECONDS = 120
#: The counters the cached main block depends on besides the ticket row and its newest
#: event: ``ver:tickets`` (every ticket write and access grant: the requester's other
#: tickets, what this agent may do), ``ver:directory`` (user names, categories, agent
#: profiles), and the shared pieces inside the block (KB articles, agents, canned).
PAGE_COUNTERS = (
    versions.TICKETS_KEY,
    versions.DIRECTORY_KEY,
    pagecache._version_key("kb"),
    pagecache._version_key("agents"),
    pagecache._version_key("canned"),
)


#: The page shows the category and the assignee; requester and owner are ids only.
TICKET_RELATED = ("category", "assignee")


def _visible_ticket_qs(user: Any, reference: str) -> QuerySet[Ticket]:
    """The ticket by reference within the user's visibility, with its newest event id
    (a subquery on the event index)."""
    return (
        ticket_list_visible_to(user=user)
        .select_related(None)
        .filter(reference=reference)
        .order_by()  # one row by the unique reference: no sort
        .annotate(newest_event_id=newest_event_id())
    )


def _key_row(user: Any, reference: str) -> tuple | None:
    """``(id, updated_at, newest event id)`` of the ticket if the user may see it: a
    hit needs only these, read with SQL compiled once per visibility inputs."""
    return sqlcache.first_row(
        ("agent-key-row", user.pk, user_is_manager(user), user_max_tier(user)),
        lambda ref: _visible_ticket_qs(user, ref).values_list(
            "pk", "updated_at", "newest_event_id"
        )[:1],
        reference,
        model=Ticket,
    )


def _page_key(user_id: int, reference: str, canned: int) -> str:
    # Per viewer: the block shows "you", the actions this agent may take and the
    # canned responses of this agent's tier. Language and time zone change its text.
    parts = (
        str(user_id),
        pagecache.text_digest(reference),
        translation.get_language() or "",
        timezone.get_current_timezone_name(),
        str(canned),
    )
    return "agent-page:" + ":".join(parts)


def _page_version(ticket: Ticket, newest_event_id: int | None, current: dict, now: Any) -> tuple:
    """What the cached block was rendered from: a write to the ticket row moves
    ``updated_at``, a new event (reply, note, sweep promotion, attachment, rating,
    vendor hand-off or revocation) moves the newest event id, and the counters cover
    the rest; the minute bounds the clocks' text."""
    return (
        ticket.pk,
        ticket.updated_at.isoformat(),
        newest_event_id or 0,
        *(current[c] for c in PAGE_COUNTERS),
        int(now.timestamp()) // 60,
        # What the code offers, not the data: whether the KB can draft articles, and
        # the templates' source (a deploy never serves a block of the old templates).
        svc.draft_article_service() is not None,
        _templates_digest(),
    )


_TEMPLATES_DIGEST: list[str] = []


def _templates_digest() -> str:
    if not _TEMPLATES_DIGEST:
        sources = [
            get_template(name).template.source
            for name in (
                "tickets/agent/_ticket_main.html",
                "tickets/agent/_event.html",
                "tickets/agent/_handoff.html",
            )
        ]
        _TEMPLATES_DIGEST.append(pagecache.text_digest("\0".join(sources)))
    return _TEMPLATES_DIGEST[0]


def _main_fragment(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """The page's main block with the CSRF token and the live presence notice left as
    markers (``_render_page`` fills them): the one shape both the cache and a live
    render use."""
    return fragments.render_fragment(
        "tickets/agent/_ticket_main.html", context, request, slots=("presence",)
    )


def _render_page(
    request: HttpRequest,
    ticket: Ticket,
    *,
    fragment: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    viewers: list[str] | None = None,
    unread: int | None = None,
    status: int = 200,
) -> HttpResponse:
    """The ticket page: the main block (``fragment``, cached, or rendered here from
    ``context``) with the requester's CSRF token and the live presence notice put in,
    inside the layout with the live bell count and messages."""
    user = request.user
    if fragment is None:
        fragment = _main_fragment(request, context or {})
    if viewers is None:
        viewers = svc.presence_touch(ticket=ticket, user=user)
    presence = render_to_string(
        "tickets/agent/_presence.html", {"viewers": viewers, "new_events": None, "ticket": ticket}
    )
    layout = {
        "ticket": ticket,
        "main": fragments.fill(fragment, request, presence=presence),
        "unread": _unread_count(user) if unread is None else unread,
    }
    return render(request, "tickets/agent/ticket.html", layout, status=status)


def _cached_profile(user: Any, current: dict | None, found: dict) -> None:
    """The agent profile from the cache entry the queue keeps (``agent-profile:<id>``,
    valid for the directory version), or from the database and stored for both."""
    key = f"agent-profile:{user.pk}"
    profile = versions.valid(found.get(key), current[versions.DIRECTORY_KEY]) if current else None
    if profile is not None:
        user._tierdesk_profile = None if profile == _NO_PROFILE else profile
    elif current:
        profile = agent_profile_of(user)
        versions.store(
            key, current[versions.DIRECTORY_KEY], profile or _NO_PROFILE, PROFILE_CACHE_SECONDS
        )


@require_GET
@login_required
def ticket_detail(request: HttpRequest, reference: str) -> HttpResponse:
    """The ticket page. Its main block is cached per viewer and valid for the ticket
    row's ``updated_at``, the newest event, the counters in ``PAGE_COUNTERS`` and the
    minute (``_page_version``); the layout, the messages, the bell, the presence
    notice and the CSRF token are never cached. One cache round trip brings the
    counters, the agent profile, the bell count and the block; with the cache down
    everything is computed."""
    user = request.user
    now = timezone.now()
    canned = _int(request.GET.get("canned")) or 0
    notif = versions.notif_key(user.pk)
    page_key = _page_key(user.pk, reference, canned)
    unread_key = versions.unread_key(user.pk)
    presence = svc.presence_key(reference)
    current, found = versions.fetch(
        [*PAGE_COUNTERS, notif], [f"agent-profile:{user.pk}", unread_key, page_key, presence]
    )
    _cached_profile(user, current, found)
    if agent_profile_of(user) is None and not user_is_manager(user):
        raise PermissionDenied("The agent workspace is for help-desk staff.")
    # With a block in the cache, the access check reads only what the key needs: the
    # row's id and updated_at and its newest event id (a subquery on the event
    # index), with no joins, so that a hit pays for neither the planning nor the
    # compiling of the full row. With none (cold, or the cache down) it reads the
    # full row at once: the page is built anyway.
    full = found.get(page_key) is None
    if full:
        ticket = next(
            iter(_visible_ticket_qs(user, reference).select_related(*TICKET_RELATED)[:1]), None
        )
        if ticket is None:
            raise Http404("No such ticket.")
        newest_event_id = ticket.newest_event_id
    else:
        row = _key_row(user, reference)
        if row is None:
            raise Http404("No such ticket.")
        pk, updated_at, newest_event_id = row
        ticket = Ticket(pk=pk, reference=reference, updated_at=updated_at)
    unread = _cached_unread(user, current, found)
    version = _page_version(ticket, newest_event_id, current, now) if current else None
    fragment = versions.valid(found.get(page_key), version) if current else None
    if fragment is None:
        if not full:
            # A stale block: now the whole row (the page shows the category and the
            # assignee). It may be newer than ``version``: a block newer than its key
            # is at worst recomputed by the next reader, never shown stale.
            ticket = Ticket.objects.select_related(*TICKET_RELATED).filter(pk=ticket.pk).first()
            if ticket is None:
                raise Http404("No such ticket.")
        fragment = _main_fragment(request, _ticket_context(request, ticket))
        if current:
            versions.store(page_key, version, fragment, PAGE_CACHE_SECONDS)
    viewers = svc.presence_touch(
        ticket=ticket, user=user, seen=found.get(presence, {}) if current else None
    )
    return _render_page(request, ticket, fragment=fragment, unread=unread, viewers=viewers)


@require_GET
@agent_required
def ticket_presence(request: HttpRequest, reference: str) -> HttpResponse:
    """htmx poll from the ticket page: refresh my presence, show who else is here and
    whether anything was posted since the page loaded."""
    ticket = ticket_get_visible_to(user=request.user, reference=reference)
    viewers = svc.presence_touch(ticket=ticket, user=request.user)
    since = _int(request.GET.get("since")) or 0
    new = svc.events_since(ticket=ticket, last_event_id=since, user=request.user) if since else []
    return render(
        request,
        "tickets/agent/_presence.html",
        {"viewers": viewers, "new_events": new, "ticket": ticket},
    )


def _act(
    request: HttpRequest,
    reference: str,
    action: Callable[[Ticket], object],
    done: str,
    *,
    then: Callable[[Ticket], str] | None = None,
    ticket: Ticket | None = None,
) -> HttpResponse:
    """Run one service. Success: message and redirect (POST/redirect/GET). Refused:
    the ticket page again with the message and the typed input; forbidden: 403.
    ``ticket``: the caller already read it within the user's visibility."""
    if ticket is None:
        ticket = ticket_get_visible_to(user=request.user, reference=reference)
    try:
        action(ticket)
    except ForbiddenError as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        ticket.refresh_from_db()
        context = _ticket_context(request, ticket, error=exc.message, error_field=exc.field)
        return _render_page(request, ticket, context=context, status=exc.status)
    messages.success(request, done)
    if then is not None:
        return redirect(then(ticket))
    return redirect("tickets:agent-ticket", reference=reference)


def _user_or_error(user_id: int | None, field: str) -> Any:
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    if user is None:
        raise core.TicketError("Choose an agent.", field=field)
    return user


def _article_or_none(request: HttpRequest, slug: str) -> Any:
    slug = (slug or "").strip()[:200]
    if not slug:
        return None
    article = article_list_visible_to(user=request.user).filter(slug=slug).first()
    if article is None:
        raise core.TicketError("Unknown article.", field="article")
    return article


@require_POST
@agent_required
def ticket_claim(request: HttpRequest, reference: str) -> HttpResponse:
    return _act(
        request,
        reference,
        lambda t: core.ticket_claim(ticket=t, agent=request.user),
        "You claimed the ticket.",
    )


@require_POST
@agent_required
def ticket_unclaim(request: HttpRequest, reference: str) -> HttpResponse:
    return _act(
        request,
        reference,
        lambda t: core.ticket_assign(ticket=t, actor=request.user, assignee=None),
        "The ticket is back in the queue.",
    )


@require_POST
@agent_required
def ticket_assign(request: HttpRequest, reference: str) -> HttpResponse:
    def action(t: Ticket) -> None:
        assignee = _user_or_error(_int(request.POST.get("assignee")), "assignee")
        core.ticket_assign(ticket=t, actor=request.user, assignee=assignee)

    return _act(request, reference, action, "Reassigned.")


@require_POST
@agent_required
def ticket_reply(request: HttpRequest, reference: str) -> HttpResponse:
    if request.POST.get("internal"):
        return _act(
            request,
            reference,
            lambda t: core.ticket_add_note(
                ticket=t, agent=request.user, body=_text(request, "body")
            ),
            "Note added.",
        )
    ticket = ticket_get_visible_to(user=request.user, reference=reference)
    typed = (request.POST.get("body") or "").strip()
    if not request.POST.get("confirm") and typed and len(typed) <= MAX_TEXT:
        # Collision notice: new posts since the page was rendered, or another agent on
        # the page. The reply is not sent; the page shows why, keeps the draft, and the
        # next submit (with ``confirm``) sends it.
        last_seen = _int(request.POST.get("last_event_id")) or 0
        new = svc.events_since(ticket=ticket, last_event_id=last_seen, user=request.user)
        # The whole page is built only when it is shown: the usual reply goes straight on.
        viewers = svc.presence_touch(ticket=ticket, user=request.user)
        if new or viewers:
            context = _ticket_context(request, ticket)
            context.update({"collision": True, "new_events": new, "viewers": viewers})
            return _render_page(request, ticket, context=context, viewers=viewers, status=409)
    wait = bool(request.POST.get("pending_customer"))
    return _act(
        request,
        reference,
        lambda t: core.ticket_reply(
            ticket=t, agent=request.user, body=_text(request, "body"), pending_customer=wait
        ),
        "Reply sent." + (" Waiting for the customer." if wait else ""),
        ticket=ticket,
    )


@require_POST
@agent_required
def ticket_status(request: HttpRequest, reference: str) -> HttpResponse:
    status = request.POST.get("status", "")[:30]
    return _act(
        request,
        reference,
        lambda t: core.ticket_change_status(
            ticket=t, actor=request.user, status=status, reason=_text(request, "reason", 2000)
        ),
        "Status changed.",
    )


@require_POST
@agent_required
def ticket_priority(request: HttpRequest, reference: str) -> HttpResponse:
    priority = request.POST.get("priority", "")[:20]
    return _act(
        request,
        reference,
        lambda t: core.ticket_change_priority(ticket=t, actor=request.user, priority=priority),
        "Priority changed.",
    )


@require_POST
@agent_required
def ticket_escalate(request: HttpRequest, reference: str) -> HttpResponse:
    def action(t: Ticket) -> None:
        core.ticket_escalate(
            ticket=t,
            actor=request.user,
            symptom=_text(request, "symptom", 4000),
            steps_tried=_text(request, "steps_tried", 4000),
            findings=_text(request, "findings", 4000),
            # Kept only if the agent may read them: the service checks (as for the API).
            articles=request.POST.getlist("articles")[:20],
            expected_tier=_int(request.POST.get("tier")),
        )

    # After escalating, the ticket may be out of the agent's sight: back to the queue.
    return _act(
        request,
        reference,
        action,
        "Escalated with your hand-off.",
        then=lambda t: reverse("tickets:agent-queue"),
    )


@require_POST
@agent_required
def ticket_bounce(request: HttpRequest, reference: str) -> HttpResponse:
    return _act(
        request,
        reference,
        lambda t: svc.ticket_bounce(
            ticket=t, actor=request.user, reason=_text(request, "reason", 4000)
        ),
        "The hand-off went back to the tier below.",
    )


@require_POST
@agent_required
def ticket_avoidable(request: HttpRequest, reference: str) -> HttpResponse:
    def action(t: Ticket) -> None:
        svc.ticket_mark_avoidable(
            ticket=t,
            actor=request.user,
            tier=_int(request.POST.get("tier")),
            article=_article_or_none(request, request.POST.get("article", "")),
            missing_article=bool(request.POST.get("missing_article")),
        )

    return _act(request, reference, action, "Marked avoidable.")


@require_POST
@agent_required
def ticket_deescalate(request: HttpRequest, reference: str) -> HttpResponse:
    return _act(
        request,
        reference,
        lambda t: core.ticket_deescalate(
            ticket=t, actor=request.user, reason=_text(request, "reason", 4000)
        ),
        "De-escalated.",
        then=lambda t: reverse("tickets:agent-queue"),
    )


@require_POST
@agent_required
def ticket_resolve(request: HttpRequest, reference: str) -> HttpResponse:
    def action(t: Ticket) -> None:
        svc.ticket_resolve_with_article(
            ticket=t,
            actor=request.user,
            resolution=_text(request, "resolution"),
            article=_article_or_none(request, request.POST.get("article", "")),
            create_draft=bool(request.POST.get("create_draft")),
        )

    return _act(request, reference, action, "Resolved.")


@require_POST
@agent_required
def ticket_merge(request: HttpRequest, reference: str) -> HttpResponse:
    def action(t: Ticket) -> None:
        target_ref = (request.POST.get("target") or "").strip().upper()[:20]
        target = (
            ticket_list_visible_to(user=request.user).filter(reference=target_ref).first()
            if q.REFERENCE_RE.match(target_ref)
            else None
        )
        if target is None:
            raise core.TicketError("No ticket with that reference.", field="target")
        svc.ticket_merge(source=t, target=target, actor=request.user)

    return _act(request, reference, action, "Merged.")


@require_POST
@agent_required
def ticket_grant(request: HttpRequest, reference: str) -> HttpResponse:
    if not user_is_manager(request.user):
        raise PermissionDenied("Only managers grant access to a ticket.")

    def action(t: Ticket) -> None:
        user = _user_or_error(_int(request.POST.get("user")), "user")
        svc.ticket_access_grant(
            ticket=t, manager=request.user, user=user, reason=_text(request, "reason", 300)
        )

    return _act(request, reference, action, "Access granted.")


# ---------------------------------------------------------------------------
# Notifications
# ---------------------------------------------------------------------------


def _inbox(user: Any) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).select_related("ticket")


@require_GET
@agent_required
def notifications(request: HttpRequest) -> HttpResponse:
    items = list(_inbox(request.user).order_by("-created_at", "-id")[:100])
    unread = _unread_count(request.user)  # all of them, not only the 100 shown
    return render(request, "tickets/agent/notifications.html", {"items": items, "unread": unread})


@require_POST
@agent_required
def notifications_read(request: HttpRequest) -> HttpResponse:
    qs = _inbox(request.user).filter(read_at__isnull=True)
    if not request.POST.get("all"):
        ids = [i for i in (_int(v) for v in request.POST.getlist("ids")[:100]) if i]
        if not ids:
            return HttpResponseBadRequest("Choose a notification.")
        qs = qs.filter(pk__in=ids)
    count = qs.update(read_at=timezone.now())
    versions.bump_notifications([request.user.pk])  # update() fires no signal
    messages.success(request, f"Marked {count} as read.")
    return redirect("tickets:agent-notifications")

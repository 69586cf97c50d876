"""The agent ticket page: its cached main block, shared pieces, presence."""

from __future__ import annotations

from html import escape as html_escape
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import get_template, render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET

from helpdesk import cache, sqlcache
from helpdesk.markdown import render_markdown_many
from knowledgebase.selectors import article_list_visible_to, article_suggest, visibility_class
from tiers.models import AgentProfile, Priority
from tiers.selectors import agent_profile_of, user_is_manager, user_max_tier

from ... import queue as q
from ...models import CannedResponse, Ticket, TicketEvent
from ...selectors import (
    categories_active,
    newest_event_id,
    ticket_attachments,
    ticket_get_visible_to,
    ticket_list_visible_to,
    ticket_timeline,
    user_can_act_on,
)
from ...services import agent as svc
from ...services import core
from ...services.relations import incident_children, ticket_links_of
from ..links import labels, url_for
from .common import (
    EXPLAINED_KINDS,
    KB_SUGGEST_URL,
    MOVE_KINDS,
    PICKER_VIEWS,
    SUGGESTED_ARTICLES,
    TICKET_URLS,
    _cached_profile,
    _cached_unread,
    _int,
    _unread_count,
    _unread_key,
    agent_required,
)

Kind = TicketEvent.Kind

# ---------------------------------------------------------------------------
# Ticket page
# ---------------------------------------------------------------------------


#: The ticket page's shared pieces (KB suggestions, agents, canned responses): keyed by
#: their versions; this bounds what a missed bump can leave behind.
SHARED_PIECES_TTL = 10 * 60


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
    (``helpdesk.cache``); nothing here is per user, carries a form or a token."""
    current, _entries = cache.fetch([cache.KB, cache.AGENTS, cache.CANNED])
    tokens = {
        k: str(current[k]) if current else None for k in (cache.KB, cache.AGENTS, cache.CANNED)
    }
    kb, group = tokens[cache.KB], visibility_class(user)
    text = f"{ticket.subject} {ticket.description[:500]}"

    def key(name: str, token: str | None, *parts: str) -> str | None:
        return ":".join(["agent", name, token, group, *parts]) if token else None

    pieces: dict[str, tuple[str | None, Any]] = {
        "suggestions": (
            # A new name: entries cached under the former "suggest" key have no slug.
            key("suggestions", kb, cache.digest(text)),
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
            key("agents", tokens[cache.AGENTS]),
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
            key("canned", tokens[cache.CANNED], _canned_class(user)),
            # Plain values, not pickled model instances (a schema change would not
            # survive in the cache).
            lambda: [(c.pk, c.title, c.body) for c in svc.canned_responses_for(user=user)],
        )
    return cache.shared(pieces, SHARED_PIECES_TTL)


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
        a.url = url_for("tickets:attachment", "pk", a.pk)
        if a.event_id:
            by_event.setdefault(a.event_id, []).append(a)
    # Attachments come from the list above (one query) instead of a prefetch.
    events = list(ticket_timeline(ticket=ticket, public_only=False).prefetch_related(None))
    # Every body rendered once and shared: one cache round trip for the whole timeline.
    bodies = render_markdown_many(e.body for e in events)
    last_move = None
    pinned = None
    kinds = labels(Kind)
    statuses = labels(Ticket.Status)
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
        o.url = url_for("tickets:agent-ticket", "reference", o.reference)
        o.status_label = statuses.get(o.status, o.status)
    now = timezone.now()
    post = request.POST if request.method == "POST" else {}
    draft = svc.draft_article_service() is not None
    context = {
        "ticket": ticket,
        "urls": {
            name: url_for(f"tickets:agent-{name}", "reference", ticket.reference)
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
        "priority_label": labels(Priority).get(ticket.priority, ticket.priority),
        "status_choices": [
            (s, statuses.get(s, s))
            for s in sorted(core.AGENT_STATUS_CHANGES.get(ticket.status, ()))
        ],
        "priorities": list(labels(Priority).items()),
        # Every link and unlink writes a LINKED event on both tickets: without one on
        # the timeline there is nothing to look up.
        "links": (ticket_links_of(ticket) if any(e.kind == Kind.LINKED for e in events) else []),
        "incident_children": (incident_children(ticket).count() if ticket.is_major_incident else 0),
        # The submit form's memo of active categories: no query.
        "edit_categories": [row[:2] for row in categories_active()] if can_act else [],
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
    cache.TICKETS,
    cache.DIRECTORY,
    cache.KB,
    cache.AGENTS,
    cache.CANNED,
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
        cache.digest(reference),
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
        _TEMPLATES_DIGEST.append(cache.digest("\0".join(sources)))
    return _TEMPLATES_DIGEST[0]


def _main_fragment(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """The page's main block with the CSRF token and the live presence notice left as
    markers (``_render_page`` fills them): the one shape both the cache and a live
    render use."""
    return cache.render_fragment(
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
        "main": cache.fill(fragment, request, presence=presence),
        "unread": _unread_count(user) if unread is None else unread,
    }
    return render(request, "tickets/agent/ticket.html", layout, status=status)


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
    notif = cache.notifications(user.pk)
    page_key = _page_key(user.pk, reference, canned)
    unread_key = _unread_key(user.pk)
    presence = svc.presence_key(reference)
    current, found = cache.fetch(
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
    fragment = cache.valid(found.get(page_key), version) if current else None
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
            cache.store(page_key, version, fragment, PAGE_CACHE_SECONDS)
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

"""The customer portal: home, submit (with KB suggestions while typing), confirmation,
tracking (reply, confirm, reopen, rate, ask for escalation), my tickets.

Views check input with forms and call ``tickets.services.portal``; the tracking
token is the customer's key to one ticket (``ticket_get_by_token``)."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk import fragments, ratelimit
from helpdesk.exceptions import DomainError
from helpdesk.markdown import render_markdown_many
from knowledgebase import cache as kb_cache
from knowledgebase.selectors import article_list_visible_to, article_suggest
from tiers.models import CUSTOMER_TIER_NAMES

from .. import pagecache
from ..forms import (
    CustomerReplyForm,
    EscalationRequestForm,
    ReopenForm,
    SatisfactionForm,
    TicketSubmitForm,
)
from ..models import Category, Ticket, TicketEvent
from ..selectors import (
    ticket_attachments,
    ticket_get_by_token,
    ticket_key_by_token,
    tickets_of_requester,
)
from ..services import portal as portal_services
from ..services.clock import next_update_due

logger = logging.getLogger(__name__)
Kind = TicketEvent.Kind
Status = Ticket.Status

#: The status in the customer's words (the badge keeps the short name).
STATUS_WORDS = {
    Status.NEW: _("We have your request. Our help desk will pick it up soon."),
    Status.OPEN: _("Someone is working on your request."),
    Status.PENDING_CUSTOMER: _("We are waiting for your answer: please reply below."),
    Status.PENDING_VENDOR: _("We are waiting for the equipment vendor; we keep following it."),
    Status.RESOLVED: _(
        "We believe this is solved. If it is not, reopen it; otherwise tell us how we did."
    ),
    Status.CLOSED: _("This request is closed. If the problem comes back, submit a new ticket."),
}
#: Events that move a ticket between tiers; only their tier numbers reach the customer.
TIER_MOVE_KINDS = (Kind.ESCALATED, Kind.PROMOTED, Kind.DEESCALATED, Kind.VENDOR_HANDOFF)
#: The only kinds a customer ever sees (and only when public): an allow-list, so a
#: hand-off, note or warning marked public by mistake still stays off their page.
CUSTOMER_VISIBLE_KINDS = (
    Kind.CREATED,
    Kind.REPLY,
    Kind.CUSTOMER_REPLY,
    Kind.STATUS,
    Kind.VENDOR_UPDATE,
    Kind.RESOLVED,
    Kind.REOPENED,
    Kind.CLOSED,
    Kind.MERGED,
    Kind.CSAT,
    Kind.ESCALATION_REQUESTED,
    Kind.ATTACHMENT,
    Kind.REMINDER,
)


# ---------------------------------------------------------------------------
# Abuse limits
# ---------------------------------------------------------------------------


def _email_key(email: str) -> str:
    # Keys hold a digest, not the address itself.
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def too_many(request: HttpRequest, retry_after: int, message: str = "") -> HttpResponse:
    response = render(
        request,
        "429.html",
        {
            "message": message
            or _("You have sent a lot in a short time. Please wait %(min)s minutes and try again.")
            % {"min": max(1, (retry_after + 59) // 60)}
        },
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


def rate_limit(
    request: HttpRequest, scope: str, *, email: str = "", per_ip: bool | None = None
) -> HttpResponse | None:
    """Count one hit for ``scope`` per client IP, or per e-mail address when one is
    given, or both (``per_ip=True`` with an e-mail: one cache round trip for the two).
    Over a limit: the 429 page with Retry-After; otherwise ``None``."""
    window = settings.PORTAL_RATE_WINDOW_SECONDS
    limits = {
        "submit": (settings.PORTAL_SUBMIT_LIMIT_PER_IP, settings.PORTAL_SUBMIT_LIMIT_PER_EMAIL),
        "reply": (settings.PORTAL_REPLY_LIMIT_PER_IP, settings.PORTAL_REPLY_LIMIT_PER_EMAIL),
        "signup": (settings.PORTAL_SIGNUP_LIMIT_PER_IP, settings.PORTAL_SIGNUP_LIMIT_PER_IP),
    }
    per_ip_limit, per_email_limit = limits[scope]
    keys: list[tuple[str, int]] = []
    if per_ip or (per_ip is None and not email):
        keys.append((f"portal:{scope}:ip:{ratelimit.client_ip(request)}", per_ip_limit))
    if email:
        keys.append((f"portal:{scope}:email:{_email_key(email)}", per_email_limit))
    refused = [
        (key, result)
        for (key, _limit), result in zip(keys, ratelimit.hit_many(keys, window=window), strict=True)
        if not result.allowed
    ]
    if not refused:
        return None
    which = "ip" if ":ip:" in refused[0][0] else "e-mail"
    logger.info("portal rate limit %s hit (%s)", scope, which)
    return too_many(request, max(r.retry_after for _k, r in refused))


# ---------------------------------------------------------------------------
# Home and submission
# ---------------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    categories = Category.objects.filter(is_active=True).only("name", "slug", "description")
    return render(request, "tickets/portal/home.html", {"categories": categories})


def _suggestions(request: HttpRequest, *, subject: str, description: str, session: str) -> list:
    """Up to five public articles for what the customer typed, logged as shown.
    Suggestions help; they must never break the form, so a failing search shows none."""
    text = f"{subject[:200]} {description[:2000]}".strip()
    if not text:
        return []
    try:
        articles = list(article_suggest(user=request.user, text=text, limit=5))[:5]
    except Exception:
        logger.exception("article suggestions failed; the form works without them")
        return []
    if _valid_session(session):
        portal_services.deflection_record_shown(session_key=session, articles=articles)
    return articles


def _valid_session(session: str) -> bool:
    return bool(session) and len(session) <= 64 and all(c.isalnum() or c in "-_" for c in session)


@require_http_methods(["GET", "POST"])
def ticket_new(request: HttpRequest) -> HttpResponse:
    user = request.user if request.user.is_authenticated else None
    suggestions: list = []
    status = 200
    if request.method == "POST":
        form = TicketSubmitForm(request.POST, request.FILES, user=user)
        valid = form.is_valid()
        data = form.cleaned_data if valid else {}
        # Every POST counts against its IP; a complete form also against its address
        # (both in one cache round trip). A bot filling the honeypot counts by IP only.
        email = data["email"] if valid and not data.get("website") else ""
        limited = rate_limit(request, "submit", email=email, per_ip=True)
        if limited:
            return limited
        if valid:
            if data.get("website"):
                # Honeypot filled: pretend success, keep nothing.
                return render(request, "tickets/portal/submitted.html", {"ticket": None})
            try:
                ticket = portal_services.ticket_submit(
                    category=data["category"],
                    subject=data["subject"],
                    description=data["description"],
                    requester=user,
                    requester_name=data["name"],
                    requester_email=data["email"],
                    urgency=data["urgency"],
                    impact=data["impact"],
                    uploads=data["attachments"],
                    submission_key=data.get("submission_key") or None,
                    kb_shown=request.POST.get("kb_shown") == "1",
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                return redirect("tickets:ticket-submitted", token=ticket.tracking_token)
        status = 400
        suggestions = _suggestions(
            request,
            subject=request.POST.get("subject", ""),
            description=request.POST.get("description", ""),
            session=request.POST.get("submission_key", ""),
        )
    else:
        initial: dict[str, Any] = {"submission_key": secrets.token_urlsafe(24)}
        if user is not None:
            initial.update(name=user.get_full_name() or user.get_username(), email=user.email)
        if request.GET.get("subject"):
            initial["subject"] = request.GET["subject"][:200]
        if request.GET.get("category"):
            initial["category"] = Category.objects.filter(
                slug=request.GET["category"][:120], is_active=True
            ).first()
        form = TicketSubmitForm(initial=initial, user=user)
    had_files = bool(request.FILES) if request.method == "POST" else False
    return render(
        request,
        "tickets/portal/new.html",
        {
            "form": form,
            "suggestions": suggestions,
            "session": form["submission_key"].value() or "",
            "files_dropped": had_files,
            "max_bytes": settings.ATTACHMENT_MAX_BYTES,
            "kb_shown": bool(suggestions) or request.POST.get("kb_shown") == "1",
        },
        status=status,
    )


@require_GET
def ticket_suggest(request: HttpRequest) -> HttpResponse:
    """The htmx partial: articles matching the subject and description typed so far."""
    result = ratelimit.hit(
        f"portal:suggest:ip:{ratelimit.client_ip(request)}",
        limit=settings.PORTAL_SUGGEST_LIMIT_PER_MINUTE,
        window=60,
    )
    if not result.allowed:
        response = HttpResponse(status=429)
        response["Retry-After"] = str(result.retry_after)
        return response
    session = request.GET.get("submission_key", "")
    articles = _suggestions(
        request,
        subject=request.GET.get("subject", ""),
        description=request.GET.get("description", ""),
        session=session,
    )
    return render(
        request,
        "tickets/portal/_suggestions.html",
        {
            "suggestions": articles,
            "session": session if _valid_session(session) else "",
            # Tells the form (out of band) that suggestions were logged for its key.
            "mark_form": True,
        },
    )


@require_GET
def suggestion_open(request: HttpRequest, session: str, slug: str) -> HttpResponse:
    """Tracking redirect: the customer opened a suggested article (deflection log)."""
    article = get_object_or_404(article_list_visible_to(user=request.user), slug=slug)
    if _valid_session(session):
        portal_services.deflection_record_opened(session_key=session, article=article)
    return redirect(article.get_absolute_url())


@never_cache
def ticket_submitted(request: HttpRequest, token: str) -> HttpResponse:
    ticket = ticket_get_by_token(token=token)
    return render(request, "tickets/portal/submitted.html", {"ticket": ticket})


# ---------------------------------------------------------------------------
# Tracking page
# ---------------------------------------------------------------------------


def _journey(ticket: Ticket, moves: list[tuple[str, Any, datetime]]) -> list[dict[str, Any]]:
    """The ticket's path through the tiers in customer words, from the tier-move
    events' tier numbers only (their texts are internal). ``moves`` are (kind, data,
    created_at) of the ticket's tier-move events, oldest first."""
    first_tier = ticket.tier
    for _kind, data, _at in moves:
        if isinstance(data, dict) and data.get("from_tier"):
            first_tier = data["from_tier"]
            break
    steps: list[dict[str, Any]] = [{"label": _("Received"), "at": ticket.created_at}]
    steps.append({"label": CUSTOMER_TIER_NAMES.get(first_tier, ""), "at": ticket.created_at})
    current = first_tier
    for kind, data, at in moves:
        data = data if isinstance(data, dict) else {}
        to_tier = data.get("to_tier") or (4 if kind == Kind.VENDOR_HANDOFF else None)
        if not isinstance(to_tier, int) or to_tier == current or to_tier not in CUSTOMER_TIER_NAMES:
            continue
        current = to_tier
        steps.append({"label": CUSTOMER_TIER_NAMES[to_tier], "at": at})
    if ticket.status == Status.RESOLVED:
        steps.append({"label": _("Solved"), "at": ticket.resolved_at})
    elif ticket.status == Status.CLOSED:
        steps.append({"label": _("Closed"), "at": ticket.closed_at})
    for step in steps:
        step["label"] = str(step["label"])[:1].upper() + str(step["label"])[1:]
        step["state"] = "done"
    steps[-1]["state"] = "current"
    return steps


def _event_label(event: TicketEvent, ticket: Ticket) -> str:
    """What happened, said to the customer ("You wrote", "Sam replied")."""
    if event.kind in (Kind.CREATED, Kind.CUSTOMER_REPLY, Kind.CSAT, Kind.ESCALATION_REQUESTED):
        who = _("You")
    elif event.actor is not None:
        who = event.actor.first_name or event.actor.get_username()
    else:
        who = event.actor_name if event.actor_name not in ("", "system") else _("Help desk")
    data = event.data if isinstance(event.data, dict) else {}
    if event.kind == Kind.CREATED:
        return _("You submitted the ticket")
    if event.kind == Kind.CUSTOMER_REPLY:
        return _("You wrote")
    if event.kind == Kind.REPLY:
        return _("%(who)s replied") % {"who": who}
    if event.kind == Kind.STATUS:
        to = data.get("to")
        label = Status(to).label if to in Status.values else to
        return _("Status changed to “%(status)s”") % {"status": label}
    if event.kind == Kind.RESOLVED:
        if data.get("by_customer"):
            return _("You marked the problem as solved")
        return _("%(who)s resolved the ticket") % {"who": who}
    if event.kind == Kind.REOPENED:
        return _("The ticket was reopened")
    if event.kind == Kind.CLOSED:
        return _("The ticket was closed")
    if event.kind == Kind.REMINDER:
        return _("We sent you a reminder")
    if event.kind == Kind.CSAT:
        return _("You rated our help %(n)s out of 5") % {"n": data.get("rating", "?")}
    if event.kind == Kind.ESCALATION_REQUESTED:
        return _("You asked for escalation")
    if event.kind == Kind.VENDOR_UPDATE:
        return _("Update from the equipment vendor")
    if event.kind == Kind.MERGED:
        return _("Merged with another ticket")
    return f"{event.get_kind_display()} · {who}"


#: Every event the tracking page reads, in one query: the customer-visible timeline
#: (public, allow-listed kinds), the tier moves for the journey (their tier numbers
#: only) and the escalation requests (once a day). Folded from three queries.
def _track_events(ticket: Ticket) -> list[TicketEvent]:
    return list(
        ticket.events.filter(
            Q(is_public=True, kind__in=CUSTOMER_VISIBLE_KINDS)
            | Q(kind__in=TIER_MOVE_KINDS)
            | Q(kind=Kind.ESCALATION_REQUESTED)
        )
        .select_related("actor")
        .only(
            "id",
            "ticket_id",
            "kind",
            "body",
            "is_public",
            "data",
            "created_at",
            "actor_name",
            "actor__id",
            "actor__username",
            "actor__first_name",
        )
        .order_by("created_at", "id")
    )


def _rating_param(request: HttpRequest) -> str:
    """The ``?rating=`` of a CSAT e-mail link if it is a valid rating, else ""."""
    rating = request.GET.get("rating", "")
    return rating if rating in {"1", "2", "3", "4", "5"} else ""


def _track_context(request: HttpRequest, ticket: Ticket, **forms: Any) -> dict[str, Any]:
    now = timezone.now()
    due: datetime | None = next_update_due(ticket)
    events = _track_events(ticket)
    requests = [e for e in events if e.kind == Kind.ESCALATION_REQUESTED]
    last_request = max(requests, key=lambda e: e.created_at) if requests else None
    can_request = ticket.status in Ticket.ACTIVE_STATUSES and (
        last_request is None
        or last_request.created_at <= now - portal_services.ESCALATION_REQUEST_INTERVAL
    )
    rating_initial = _rating_param(request)
    # The customer's public files, once: the "Files" list and each event's own files
    # (was a second query through a prefetch).
    files = list(
        ticket_attachments(ticket=ticket, public_only=True).only(
            "id", "original_name", "size", "created_at", "ticket_id", "event_id"
        )
    )
    files_by_event: dict[int, list] = {}
    for a in files:
        if a.event_id:
            files_by_event.setdefault(a.event_id, []).append(a)
    # The allow-list is applied here again, on what was loaded: a tier move or an
    # escalation request marked non-public never reaches the page.
    timeline = [e for e in events if e.is_public and e.kind in CUSTOMER_VISIBLE_KINDS]
    bodies = render_markdown_many(e.body for e in timeline)
    for event in timeline:
        event.label = _event_label(event, ticket)
        event.body_html = bodies.get(event.body, "")
        event.public_files = files_by_event.get(event.pk, [])
    moves = [(e.kind, e.data, e.created_at) for e in events if e.kind in TIER_MOVE_KINDS]
    context = {
        "ticket": ticket,
        "token": ticket.tracking_token,
        "status_words": STATUS_WORDS.get(ticket.status, ""),
        "tier_name": CUSTOMER_TIER_NAMES.get(ticket.tier, ""),
        "journey": _journey(ticket, moves),
        "timeline": timeline,
        "files": files,
        "next_update_due": due,
        "overdue": portal_services.ticket_is_overdue(ticket, now=now),
        "can_rate": portal_services.csat_pending(ticket),
        # The KB article an agent resolved with, when the customer may read it.
        "solution_article": (
            article_list_visible_to(user=request.user)
            .filter(pk=ticket.resolved_article_id)
            .only("title", "slug")
            .first()
            if ticket.resolved_article_id and ticket.status in Ticket.DONE_STATUSES
            else None
        ),
        "last_escalation_request": last_request,
        "can_request_escalation": can_request,
        "form": forms.get("form") or CustomerReplyForm(),
        "reopen_form": forms.get("reopen_form") or ReopenForm(),
        "rate_form": forms.get("rate_form")
        or SatisfactionForm(initial={"rating": rating_initial} if rating_initial else {}),
        "escalate_form": forms.get("escalate_form") or EscalationRequestForm(),
        "max_bytes": settings.ATTACHMENT_MAX_BYTES,
    }
    context["fields"] = _fields(
        reply=context["form"],
        reopen=context["reopen_form"],
        rate=context["rate_form"],
        escalate=context["escalate_form"],
    )
    return context


#: Unbound form fields rendered once per process (and language, form, field, initial):
#: the tracking page shows four forms and each field costs a template and widget render.
_FIELD_HTML: dict[tuple[Any, ...], str] = {}


def _fields(**forms: Any) -> dict[str, str]:
    """``{"<form>_<field>": html}`` for every field of the unbound forms given; a bound
    form (a refused POST) is rendered live by the template, with its values and
    errors. The cached HTML holds no token and nothing from the request but the
    initial value that is part of the key."""
    out: dict[str, str] = {}
    for prefix, form in forms.items():
        if form.is_bound:
            continue
        for name in form.fields:
            template = (
                "tickets/portal/_choices.html" if name == "rating" else "tickets/portal/_field.html"
            )
            key = (
                translation.get_language(),
                type(form).__name__,
                name,
                repr(form.initial.get(name)),
            )
            html = None if settings.DEBUG else _FIELD_HTML.get(key)
            if html is None:
                html = _FIELD_HTML[key] = render_to_string(template, {"field": form[name]})
            out[f"{prefix}_{name}"] = mark_safe(html)  # rendered by our own template
    return out


#: A cached block is also keyed by the minute: "next update in …", "overdue" and the
#: once-a-day escalation request read the clock.
TRACK_BLOCK_TTL = 120


def _track_block_key(request: HttpRequest, ticket: Ticket, rating: str) -> str:
    """What the block shows, as a key: the ticket row (``updated_at``), its newest
    event (every reply, note, move, rating, escalation request and file comes with
    one), the minute, the language and the ``?rating=`` of an e-mail link; for a
    resolved-with-article ticket, the reader's KB visibility and the KB version.
    ``ticket`` comes from ``ticket_key_by_token`` (``track``, the one plain view)."""
    parts: list[Any] = [
        ticket.pk,
        ticket.updated_at.timestamp(),
        ticket.newest_event_id or 0,
        int(time.time() // 60),
        translation.get_language(),
        rating,
    ]
    if ticket.resolved_article_id:
        parts += [kb_cache.visibility_class(request.user), kb_cache.kb_version()]
    return "track:" + ":".join(map(str, parts))


def _track_block(
    request: HttpRequest, ticket: Ticket, load: Callable[[], Ticket] | None = None, **forms: Any
) -> str:
    """The page's main block. A plain view (no bound form: a refused POST shows the
    reader's input and errors, rendered live) is rendered once per ticket state and
    shared between readers: rendered without the request (nothing about the viewer),
    its CSRF tokens left as markers that ``fill`` replaces with the reader's own token
    (helpdesk/fragments.py). Redis down: rendered every time. ``load``: the full row,
    when ``ticket`` holds only what the key needs (``ticket_key_by_token``)."""
    template = "tickets/portal/_track_content.html"
    if forms:
        return render_to_string(template, _track_context(request, ticket, **forms), request)
    fragment = pagecache.cached(
        _track_block_key(request, ticket, _rating_param(request)),
        lambda: fragments.render_fragment(
            template, _track_context(request, load() if load else ticket), None
        ),
        TRACK_BLOCK_TTL,
    )
    return fragments.fill(fragment, request)


def _track_render(
    request: HttpRequest,
    ticket: Ticket,
    status: int = 200,
    load: Callable[[], Ticket] | None = None,
    **forms: Any,
):
    block = _track_block(request, ticket, load, **forms)
    return render(
        request,
        "tickets/portal/track.html",
        {"ticket": ticket, "content": mark_safe(block)},  # rendered (escaped) above
        status=status,
    )


def _actor(request: HttpRequest):
    return request.user if request.user.is_authenticated else None


def _limit_ticket_actions(request: HttpRequest, ticket: Ticket) -> HttpResponse | None:
    """Replies and the other buttons share one budget per IP and per ticket owner, so a
    script cannot flood a ticket (or the customer's inbox) with resolve/reopen loops."""
    return rate_limit(request, "reply", email=ticket.requester_email, per_ip=True)


def limit_track_views(request: HttpRequest) -> HttpResponse | None:
    """Reads of tracking pages and their attachments, per IP and minute (counted before
    the token is looked up, so guessing costs the same as reading)."""
    result = ratelimit.hit(
        f"portal:track-view:ip:{ratelimit.client_ip(request)}",
        limit=settings.PORTAL_TRACK_VIEW_LIMIT_PER_MINUTE,
        window=60,
    )
    if result.allowed:
        return None
    logger.info("portal rate limit track-view hit (ip)")
    return too_many(
        request,
        result.retry_after,
        _("This page was opened very often in a short time. Please wait a minute and reload it."),
    )


@never_cache
@require_http_methods(["GET", "POST"])
def track(request: HttpRequest, token: str) -> HttpResponse:
    if request.method != "POST":
        limited = limit_track_views(request)
        if limited:
            return limited
        # The key row first: a cached block needs nothing else. Rendering it needs the
        # row and its category (requester, assignee and owner are not joined).
        return _track_render(
            request,
            ticket_key_by_token(token=token),
            load=lambda: ticket_get_by_token(token=token, related=("category",)),
        )
    ticket = ticket_get_by_token(token=token)
    limited = _limit_ticket_actions(request, ticket)
    if limited:
        return limited
    form = CustomerReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            portal_services.ticket_customer_reply_with_files(
                ticket=ticket,
                body=form.cleaned_data["body"],
                uploads=form.cleaned_data["attachments"],
                actor=_actor(request),
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else "body", exc.message)
        else:
            messages.success(request, _("Your reply was sent. We will get back to you."))
            return redirect("tickets:track", token=token)
    if request.FILES:
        messages.info(request, _("Your files were not sent: please choose them again."))
    return _track_render(request, ticket, status=400, form=form)


@require_POST
def track_solved(request: HttpRequest, token: str) -> HttpResponse:
    ticket = ticket_get_by_token(token=token)
    limited = _limit_ticket_actions(request, ticket)
    if limited:
        return limited
    was_resolved = ticket.status == Status.RESOLVED
    try:
        portal_services.ticket_customer_resolve(ticket=ticket, actor=_actor(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Thank you for confirming. The ticket is closed.")
            if was_resolved
            else _("Glad it is solved! The ticket is resolved; tell us how we did below."),
        )
    return redirect("tickets:track", token=token)


@require_POST
def track_reopen(request: HttpRequest, token: str) -> HttpResponse:
    ticket = ticket_get_by_token(token=token)
    limited = _limit_ticket_actions(request, ticket)
    if limited:
        return limited
    form = ReopenForm(request.POST)
    if not form.is_valid():
        return _track_render(request, ticket, status=400, reopen_form=form)
    try:
        portal_services.ticket_customer_reopen(
            ticket=ticket, actor=_actor(request), reason=form.cleaned_data["reason"]
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your ticket is open again. We are on it."))
    return redirect("tickets:track", token=token)


@require_POST
def track_rate(request: HttpRequest, token: str) -> HttpResponse:
    ticket = ticket_get_by_token(token=token)
    limited = _limit_ticket_actions(request, ticket)
    if limited:
        return limited
    form = SatisfactionForm(request.POST)
    if form.is_valid():
        try:
            portal_services.csat_submit(
                ticket=ticket,
                rating=form.cleaned_data["rating"],
                comment=form.cleaned_data["comment"],
                actor=_actor(request),
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Thank you for rating our help."))
            return redirect("tickets:track", token=token)
    return _track_render(request, ticket, status=400, rate_form=form)


@require_POST
def track_escalate(request: HttpRequest, token: str) -> HttpResponse:
    ticket = ticket_get_by_token(token=token)
    limited = _limit_ticket_actions(request, ticket)
    if limited:
        return limited
    form = EscalationRequestForm(request.POST)
    if form.is_valid():
        try:
            portal_services.escalation_request(
                ticket=ticket,
                reason=form.cleaned_data["reason"],
                urgent=form.cleaned_data["urgent"],
                actor=_actor(request),
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(
                request,
                _(
                    "We have told the team handling your ticket and their managers. "
                    "Someone will look at it shortly."
                ),
            )
            return redirect("tickets:track", token=token)
    return _track_render(request, ticket, status=400, escalate_form=form)


# ---------------------------------------------------------------------------
# My tickets
# ---------------------------------------------------------------------------


@login_required
def my_tickets(request: HttpRequest) -> HttpResponse:
    tickets = list(
        tickets_of_requester(user=request.user)
        .select_related(None)
        .select_related("category")
        .only(
            "reference",
            "subject",
            "status",
            "tier",
            "priority",
            "created_at",
            "updated_at",
            "tracking_token",
            "first_response_at",
            "first_response_due",
            "resolution_due",
            "category__name",
        )[:200]
    )
    for ticket in tickets:
        ticket.tier_words = CUSTOMER_TIER_NAMES.get(ticket.tier, "")
        ticket.next_update = next_update_due(ticket)
    return render(
        request,
        "tickets/portal/my_tickets.html",
        {"tickets": tickets, "verified": portal_services.account_is_verified(request.user)},
    )

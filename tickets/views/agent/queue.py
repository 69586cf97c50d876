"""The agent queue (cached rows and filter form), bulk actions and the notification inbox."""

from __future__ import annotations

import time
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from helpdesk import cache
from helpdesk.exceptions import DomainError, ForbiddenError
from tiers.models import Priority
from tiers.selectors import agent_profile_of, user_is_manager

from ... import queue as q
from ...models import Category, Notification, SavedView, Ticket, TicketEvent
from ...services import agent as svc
from ...services import core
from ...services.notify import notifications_mark_read
from ...services.views import saved_view_create, saved_view_delete
from .common import (
    _cached_profile,
    _cached_unread,
    _int,
    _unread_count,
    _unread_key,
    agent_required,
)

Kind = TicketEvent.Kind

# ---------------------------------------------------------------------------
# Queue
# ---------------------------------------------------------------------------


#: The rows fragment is cached per 5-second slice of the clock (the page's htmx
#: refresh period): the server-rendered "time left" text is at most that old, and
#: static/js/countdown.js keeps it current in the browser from ``data-deadline``.
ROWS_CACHE_SECONDS = 5
#: The filter form changes only with the directory version; this is a backstop.
FILTERS_CACHE_SECONDS = 600


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
    return f"queue-rows:{slice_}:{user_id}:{cache.digest(poll_qs)}"


def _filters_key(user_id: int, filters_qs: str) -> str:
    """Besides the directory version and the scope (in the entry: which agents the
    assignee filter offers), the filter form depends on the selected values."""
    return f"queue-filters:{user_id}:{cache.digest(filters_qs)}"


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
            "page": page,
            "show_tier": params.view == "all",
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


@require_GET
@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """The queue (agents and managers; others get 403). Four pieces are cached, each
    valid for the version counter it depends on (helpdesk/cache.py) and, for the
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
        "views": f"saved-views:{user.pk}",
        "profile": f"agent-profile:{user.pk}",
        "rows": _rows_key(user.pk, _poll_qs(params), now),
        "filters": _filters_key(user.pk, filters_qs),
        "unread": _unread_key(user.pk),
    }
    notif = cache.notifications(user.pk)
    if partial:
        del keys["filters"], keys["unread"], keys["views"]
    # One round trip: the version counters and every cached piece (each stored with
    # the version it was computed at). With the cache down (current is None) every
    # piece is computed and nothing is stored.
    current, found = cache.fetch([cache.TICKETS, cache.DIRECTORY, notif], keys.values())

    def cached(name: str, counter: str) -> Any | None:
        return cache.valid(found.get(keys[name]), current[counter]) if current else None

    # The agent profile decides access and scope. It is cached under the directory
    # version, which every profile and user write bumps after commit: a deactivated
    # agent is refused on its next request.
    _cached_profile(user, current, found)
    if agent_profile_of(user) is None and not user_is_manager(user):
        raise PermissionDenied("The agent workspace is for help-desk staff.")
    scope = _QueueScope(request)

    status = 200
    rows = _in_scope(cached("rows", cache.TICKETS), scope)
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
            cache.store(keys["rows"], current[cache.TICKETS], entry, ROWS_CACHE_SECONDS)
    if partial:
        # The htmx poll: only the rows, same query string, so filters and page stay.
        return HttpResponse(rows["html"], status=status)

    filters = _in_scope(cached("filters", cache.DIRECTORY), scope)
    if filters is None:
        filters = {"scope": scope.tag, "html": _render_filters(scope, params)}
        if current:
            cache.store(keys["filters"], current[cache.DIRECTORY], filters, FILTERS_CACHE_SECONDS)
    unread = _cached_unread(user, current, found)
    # Saved views with their counts: valid while no ticket, view or directory row moved.
    views_version = (current[cache.TICKETS], current[cache.DIRECTORY]) if current else None
    saved_views = cache.valid(found.get(keys["views"]), views_version) if current else None
    if saved_views is None:
        saved_views = q.saved_views_of(user=user)
        if current:
            cache.store(keys["views"], views_version, saved_views, ROWS_CACHE_SECONDS)

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
        "saved_views": saved_views,
        "can_share_views": user_is_manager(user),
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
    ids = None
    if not request.POST.get("all"):
        ids = [i for i in (_int(v) for v in request.POST.getlist("ids")[:100]) if i]
        if not ids:
            return HttpResponseBadRequest("Choose a notification.")
    count = notifications_mark_read(user=request.user, ids=ids)
    messages.success(request, f"Marked {count} as read.")
    return redirect("tickets:agent-notifications")


@require_POST
@agent_required
def queue_view_save(request: HttpRequest) -> HttpResponse:
    """Save the queue's current filters as a named view (or remove one)."""
    back = reverse("tickets:agent-queue")
    posted_qs = request.POST.get("qs", "")[:1000]
    try:
        if request.POST.get("delete"):
            view = SavedView.objects.filter(pk=_int(request.POST.get("delete"))).first()
            if view is None:
                raise core.TicketError("That view no longer exists.")
            saved_view_delete(user=request.user, view=view)
            messages.success(request, f"Removed the view “{view.name}”.")
            return redirect(back)
        view = saved_view_create(
            user=request.user,
            name=request.POST.get("name", "")[:200],
            query=posted_qs,
            shared=request.POST.get("shared") == "1",
        )
    except ForbiddenError as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
        filters = q.as_query_params(q.params_from(QueryDict(posted_qs)).filter_items())
        return redirect(back + "?" + filters)
    messages.success(request, f"Saved the view “{view.name}”.")
    return redirect(back + ("?" + view.query if view.query else ""))

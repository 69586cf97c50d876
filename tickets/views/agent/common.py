"""What the agent pages share: access, posted-value parsing, the cached profile and bell."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import reverse_lazy

from helpdesk import cache
from tiers.selectors import agent_profile_of, user_is_manager

from ...forms import clean_text
from ...models import Notification, TicketEvent
from ...services import core

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
    "edit",
    "link",
    "incident",
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


#: The agent profile decides access. Its entry is short-lived so that a deactivation
#: whose version bump was lost (Redis unreachable at that moment, but not emptied)
#: still takes effect within seconds.
PROFILE_CACHE_SECONDS = 10
#: How long a user's cached unread count lives without any write (a backstop only).
UNREAD_TTL = 60


def _unread_key(user_id: int) -> str:
    return f"unread:{user_id}"


def _count_unread(user: Any) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def _unread_count(user: Any) -> int:
    """The bell's count, cached per user until a notification of theirs is written."""
    return cache.under(
        cache.notifications(user.pk), _unread_key(user.pk), lambda: _count_unread(user), UNREAD_TTL
    )


def _cached_unread(user: Any, current: dict | None, found: dict) -> int:
    """The bell's count from the entry a view fetched with its counters (one round
    trip: ``cache.notifications`` among ``current``, ``_unread_key`` among
    ``found``), or counted and stored for the next page."""
    key, counter = _unread_key(user.pk), cache.notifications(user.pk)
    unread = cache.valid(found.get(key), current[counter]) if current else None
    if unread is None:
        unread = _count_unread(user)
        if current:
            cache.store(key, current[counter], unread, UNREAD_TTL)
    return unread


#: Cached in place of a profile for a user that has none (a superuser manager).
_NO_PROFILE = "none"


def _cached_profile(user: Any, current: dict | None, found: dict) -> None:
    """The agent profile from the cache entry the queue keeps (``agent-profile:<id>``,
    valid for the directory version), or from the database and stored for both."""
    key = f"agent-profile:{user.pk}"
    profile = cache.valid(found.get(key), current[cache.DIRECTORY]) if current else None
    if profile is not None:
        user._tierdesk_profile = None if profile == _NO_PROFILE else profile
    elif current:
        profile = agent_profile_of(user)
        cache.store(key, current[cache.DIRECTORY], profile or _NO_PROFILE, PROFILE_CACHE_SECONDS)

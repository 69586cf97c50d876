"""Reads about tickets that pages, the API and exports share.

Access control lives here: every fetch of a ticket by a person goes through
``ticket_list_visible_to`` so that "no such ticket" and "not yours" are the same 404.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import router
from django.db.models import Model, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404

from helpdesk import sqlcache
from helpdesk.cache import DIRECTORY, VersionedMemo
from knowledgebase.selectors import article_list_visible_to
from tiers.selectors import agent_profile_of, user_is_manager, user_max_tier

from .models import Attachment, Category, Ticket, TicketAccessGrant, TicketEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser


#: What the submit form and ``ticket_create`` read of a category.
CATEGORY_FIELDS = ("id", "name", "slug", "entry_tier", "default_priority", "is_active")
#: Kept per process under the directory counter (bumped after commit by every
#: category write): the submit form is shown and checked without a query.
_categories = VersionedMemo(DIRECTORY)


def categories_active() -> tuple[tuple[Any, ...], ...]:
    """``CATEGORY_FIELDS`` of every active category, in display order."""
    return _categories.get(
        "active",
        lambda: tuple(
            Category.objects.filter(is_active=True)
            .order_by("sort_order", "name")
            .values_list(*CATEGORY_FIELDS)
        ),
    )


def category_active(pk: int) -> Category | None:
    """The active category ``pk``, its other fields loaded on first access."""
    for row in categories_active():
        if row[0] == pk:
            return _from_values(Category, CATEGORY_FIELDS, row)
    return None


def _from_values(model: type[Model], fields: tuple[str, ...], row: tuple[Any, ...]) -> Any:
    """A ``model`` instance from ``row`` (values of ``fields``), the other fields
    deferred: ``Model.from_db`` wants the values in the model's field order."""
    values = dict(zip(fields, row, strict=True))
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(router.db_for_read(model), names, [values[n] for n in names])


def ticket_base_qs() -> QuerySet[Ticket]:
    return Ticket.objects.select_related("category", "assignee", "requester", "owner")


def ticket_list_visible_to(*, user: AnyUser) -> QuerySet[Ticket]:
    """Tickets the user may read: managers all; agents their tier and below (Tier 3 also
    Tier 4); customers their own; anonymous none (they use the tracking token)."""
    qs = ticket_base_qs()
    if user is None or not user.is_authenticated:
        return qs.none()
    if user_is_manager(user):
        return qs
    max_tier = user_max_tier(user)
    if max_tier:
        # A manager's access grant lets an agent see (and act on) one ticket above its tier.
        granted = TicketAccessGrant.objects.filter(user=user).values("ticket_id")
        return qs.filter(
            Q(tier__lte=max_tier) | Q(assignee=user) | Q(owner=user) | Q(pk__in=granted)
        )
    return qs.filter(requester=user)


def ticket_get_visible_to(
    *, user: AnyUser, reference: str, related: tuple[str, ...] | None = None
) -> Ticket:
    # Scope first, so "no such ticket" and "not yours" are the same 404. ``related``
    # narrows the joined rows (each join costs planning time on every page view).
    qs = ticket_list_visible_to(user=user)
    if related is not None:
        qs = qs.select_related(None).select_related(*related)
    return get_object_or_404(qs, reference=reference)


def ticket_get_by_token(*, token: str, related: tuple[str, ...] | None = None) -> Ticket:
    """The customer's tracking link. The token is looked up by its unique index, then
    compared in constant time; a malformed token is simply not found. ``related``
    narrows the joined rows (the tracking page shows only the category)."""
    if not token or len(token) > 64:
        raise Http404
    qs = ticket_base_qs() if related is None else Ticket.objects.select_related(*related)
    ticket = qs.filter(tracking_token=token).first()
    if ticket is None or not secrets.compare_digest(ticket.tracking_token, token):
        raise Http404
    return ticket


def newest_event_id() -> Subquery:
    """For ``annotate``: the id of the ticket's newest event (the event index), which a
    page cache keys on with ``updated_at``: every reply, note, move, rating and file
    comes with an event."""
    return Subquery(
        TicketEvent.objects.filter(ticket=OuterRef("pk")).order_by("-pk").values("pk")[:1]
    )


#: What the tracking page's cache key and its layout read of the ticket.
TRACK_KEY_FIELDS = ("id", "reference", "tracking_token", "updated_at", "resolved_article_id")


def ticket_key_by_token(*, token: str) -> Ticket:
    """The tracking link's ticket with only ``TRACK_KEY_FIELDS`` and ``newest_event_id``
    loaded (the others on first access), read with SQL compiled once per process
    (``helpdesk.sqlcache``): what a cached tracking page needs. The same checks as ``ticket_get_by_token``."""
    if not token or len(token) > 64:
        raise Http404
    row = sqlcache.first_row(
        "ticket-key-by-token",
        lambda value: (
            Ticket.objects.filter(tracking_token=value)
            .order_by()
            .annotate(newest_event_id=newest_event_id())
            .values_list(*TRACK_KEY_FIELDS, "newest_event_id")[:1]
        ),
        token,
        model=Ticket,
    )
    if row is None or not secrets.compare_digest(row[2], token):
        raise Http404
    ticket = _from_values(Ticket, TRACK_KEY_FIELDS, row[:-1])
    ticket.newest_event_id = row[-1]
    return ticket


def user_can_act_on(*, user: AnyUser, ticket: Ticket) -> bool:
    """Agents act on tickets of their own tier and below; Tier 3 also on vendor tickets;
    managers on everything; the assignee or accountable owner on their own ticket; an
    agent holding a manager's ``TicketAccessGrant`` on that ticket."""
    if user_is_manager(user):
        return True
    profile = agent_profile_of(user)
    if profile is None:
        return False
    if ticket.assignee_id == user.pk or ticket.owner_id == user.pk:
        return True
    if ticket.tier <= user_max_tier(user):
        return True
    return TicketAccessGrant.objects.filter(ticket_id=ticket.pk, user=user).exists()


def user_is_requester(*, user: AnyUser, ticket: Ticket) -> bool:
    return bool(user and user.is_authenticated and ticket.requester_id == user.pk)


def ticket_timeline(*, ticket: Ticket, public_only: bool) -> QuerySet[TicketEvent]:
    qs = ticket.events.select_related("actor").prefetch_related("attachments")
    if public_only:
        qs = qs.filter(is_public=True)
    return qs.order_by("created_at", "id")


def ticket_attachments(*, ticket: Ticket, public_only: bool) -> QuerySet[Attachment]:
    qs = ticket.attachments.all()
    if public_only:
        qs = qs.filter(is_public=True)
    return qs


def tickets_of_requester(*, user: AnyUser) -> QuerySet[Ticket]:
    if user is None or not user.is_authenticated:
        return Ticket.objects.none()
    return ticket_base_qs().filter(requester=user).order_by("-created_at")


def article_slugs_visible_to(*, user: AnyUser, slugs: Sequence[str]) -> list[str]:
    """The ``slugs`` (in their order, once each) of published articles ``user`` may
    read: what a hand-off may record as "KB articles consulted". The web form and the
    API both pass through it (``ticket_escalate``), so neither can store the slug of
    an article its author cannot see, nor one that does not exist."""
    wanted = list(dict.fromkeys(s.strip()[:200] for s in slugs if s and s.strip()))
    if not wanted:
        return []
    known = set(
        article_list_visible_to(user=user).filter(slug__in=wanted).values_list("slug", flat=True)
    )
    return [s for s in wanted if s in known]


def next_update_due(ticket: Ticket) -> datetime | None:
    """What the customer is told: when they will hear from us next."""
    if ticket.status in Ticket.DONE_STATUSES or ticket.status == Ticket.Status.PENDING_CUSTOMER:
        return None
    if ticket.first_response_at is None and ticket.first_response_due:
        return ticket.first_response_due
    return ticket.resolution_due

"""Saved views of the agent queue: a name for a set of filters, personal or shared.

Shared views (every agent sees them) are a manager's to make and remove. The stored
query is the queue's own normalised form (``queue.params_from`` → ``as_query_params``),
so a view never carries a parameter the queue does not know."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.utils.translation import gettext as _

from helpdesk.exceptions import ForbiddenError
from tiers.selectors import user_is_manager

from .. import queue as q
from ..models import SavedView
from .core import TicketError

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser as User

#: Views one agent sees at most (their own and the shared ones); each shows a count.
MAX_VIEWS = 20


def saved_view_create(*, user: User, name: str, query: str, shared: bool = False) -> SavedView:
    name = " ".join((name or "").split())
    if not name:
        raise TicketError(_("Name the view."), field="view_name")
    if len(name) > 80:
        raise TicketError(_("Keep the name under 80 characters."), field="view_name")
    if shared and not user_is_manager(user):
        raise ForbiddenError(_("Only managers share views with every agent."))
    params = q.params_from(QueryDict((query or "")[:1000]))
    if params.errors:
        raise TicketError(" ".join(params.errors), field="view_name")
    normalised = q.as_query_params(params.filter_items())
    owner = None if shared else user
    if SavedView.objects.filter(owner=owner).count() >= MAX_VIEWS:
        raise TicketError(
            _("You have %(n)s saved views already.") % {"n": MAX_VIEWS}, field="view_name"
        )
    try:
        with transaction.atomic():
            return SavedView.objects.create(name=name, owner=owner, query=normalised)
    except IntegrityError:
        raise TicketError(
            _("A view named “%(name)s” exists already.") % {"name": name}, field="view_name"
        ) from None


def saved_view_delete(*, user: User, view: SavedView) -> None:
    if view.owner_id is None and not user_is_manager(user):
        raise ForbiddenError(_("Only managers remove shared views."))
    if view.owner_id not in (None, user.pk):
        raise ForbiddenError(_("That view is someone else's."))
    view.delete()

"""``{% automation_panel ticket %}``: the ticket page's tags and macros.

Rendered in the page's layout, outside the cached main block, so a tag or a new
macro shows on the next view without touching that block's key."""

from __future__ import annotations

from typing import Any

from django import template

from tickets.models import Ticket
from tickets.selectors import user_can_act_on

from ..selectors import macros_usable_by, ticket_tag_names

register = template.Library()


@register.inclusion_tag("automation/_ticket_panel.html", takes_context=True)
def automation_panel(context: dict[str, Any], ticket: Ticket) -> dict[str, Any]:
    request = context["request"]
    user = request.user
    # The layout's ticket may hold only its key columns (a cached page): read what
    # the access check needs.
    row = (
        Ticket.objects.filter(pk=ticket.pk)
        .values("tier", "status", "assignee_id", "owner_id")
        .first()
    )
    can_act = False
    if row is not None:
        probe = Ticket(pk=ticket.pk, **row)
        can_act = user_can_act_on(user=user, ticket=probe)
    return {
        "ticket": ticket,
        "tags": ticket_tag_names(ticket_id=ticket.pk),
        "can_act": can_act,
        "macros": list(macros_usable_by(user=user).only("id", "name")) if can_act else [],
        "csrf_token": context.get("csrf_token"),
        "is_closed": row is not None and row["status"] == Ticket.Status.CLOSED,
    }

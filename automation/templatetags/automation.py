"""``{% automation_panel %}``: the ticket page's tags and macros.

Rendered inside the page's cached main block (``tickets/agent/_ticket_main.html``),
so a hit costs nothing: a tag change moves the block's key (it writes an event and
the ticket's ``updated_at``), and a macro edit shows within the minute that bounds
every block. A miss reads both lists in one query."""

from __future__ import annotations

from typing import Any

from django import template

from ..selectors import ticket_panel_rows

register = template.Library()


@register.inclusion_tag("automation/_ticket_panel.html", takes_context=True)
def automation_panel(context: template.Context) -> dict[str, Any]:
    ticket = context["ticket"]
    user = getattr(context.get("request"), "user", None)
    can_act = bool(context.get("can_act")) and user is not None
    tags, macros = ticket_panel_rows(ticket_id=ticket.pk, user=user, with_macros=can_act)
    return {
        "ticket": ticket,
        "tags": tags,
        "macros": macros,
        "can_act": can_act,
        "is_closed": ticket.status == "closed",
        "csrf_token": context.get("csrf_token"),
    }

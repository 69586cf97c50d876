"""What agents' open pages hear of (``helpdesk.live``): ticket changes, presence and
"typing…". Messages name tickets by id and say nothing of their content; each page
fetches what changed through its own access-checked view.

Ticket changes are published from the one after-commit point every ticket write goes
through: the event hooks (``tickets.services.core.EVENT_HOOKS``, run after commit by
``ticket_event_create`` and, a batch at a time, by the escalation sweep), so a page
never hears of a change that was rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from helpdesk import live

TICKETS = "tickets"
PRESENCE = "presence"
TYPING = "typing"


def ticket_events_published(events: Sequence[Any]) -> None:
    """One message for a batch of events (a sweep batch: hundreds of promotions)."""
    ids = sorted({e.ticket_id for e in events})
    if ids:
        live.publish(TICKETS, ids=ids)


def ticket_event_published(event: Any) -> None:
    ticket_events_published([event])


ticket_event_published.for_many = ticket_events_published  # type: ignore[attr-defined]


def presence_changed(*, ticket_id: int, user_id: int) -> None:
    live.publish(PRESENCE, ticket=ticket_id, user=user_id)


def typing_started(*, ticket_id: int, user_id: int, name: str) -> None:
    live.publish(TYPING, ticket=ticket_id, user=user_id, name=name)


def wanted(message: dict[str, Any], *, ticket_id: int | None, user_id: int) -> bool:
    """Whether a stream should pass ``message`` on. A queue page (no ticket) hears of
    every ticket change; a ticket page of changes to its ticket, and of others'
    presence and typing on it."""
    kind = message.get("kind")
    if kind == TICKETS:
        ids = message.get("ids") or []
        return ticket_id is None or ticket_id in ids
    if kind in (PRESENCE, TYPING):
        return (
            ticket_id is not None
            and message.get("ticket") == ticket_id
            and (message.get("user") != user_id)
        )
    return False

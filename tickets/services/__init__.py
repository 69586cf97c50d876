"""Ticket services. Import from the submodule that owns a use case, e.g.
``from tickets.services.core import ticket_claim``; ``core`` re-exported here."""

from .core import (
    TicketError,
    priority_from,
    ticket_add_note,
    ticket_assign,
    ticket_change_priority,
    ticket_change_status,
    ticket_claim,
    ticket_close,
    ticket_create,
    ticket_customer_reply,
    ticket_deescalate,
    ticket_enter_tier,
    ticket_escalate,
    ticket_event_create,
    ticket_reopen,
    ticket_reply,
    ticket_resolve,
)

__all__ = [
    "TicketError",
    "priority_from",
    "ticket_add_note",
    "ticket_assign",
    "ticket_change_priority",
    "ticket_change_status",
    "ticket_claim",
    "ticket_close",
    "ticket_create",
    "ticket_customer_reply",
    "ticket_deescalate",
    "ticket_enter_tier",
    "ticket_escalate",
    "ticket_event_create",
    "ticket_reopen",
    "ticket_reply",
    "ticket_resolve",
]

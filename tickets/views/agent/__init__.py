"""The agent workspace: tier queue, ticket page, actions and notifications.

Views are thin: they parse and validate input, fetch the ticket through the access
selectors, and call one service. A refused action re-renders the ticket page with
the message and what the agent typed (status 400/409); a forbidden one is a 403.

``queue`` (the queue, bulk actions, notifications), ``ticket`` (the ticket page),
``actions`` (its forms' POSTs), ``common`` (access and the cached profile and bell).
"""

from .actions import (
    ticket_assign,
    ticket_avoidable,
    ticket_bounce,
    ticket_claim,
    ticket_deescalate,
    ticket_edit,
    ticket_escalate,
    ticket_grant,
    ticket_merge,
    ticket_priority,
    ticket_reply,
    ticket_resolve,
    ticket_status,
    ticket_unclaim,
)
from .queue import notifications, notifications_read, queue, queue_bulk, queue_view_save
from .ticket import ticket_detail, ticket_presence

__all__ = [
    "notifications",
    "notifications_read",
    "queue",
    "queue_bulk",
    "queue_view_save",
    "ticket_assign",
    "ticket_avoidable",
    "ticket_bounce",
    "ticket_claim",
    "ticket_deescalate",
    "ticket_detail",
    "ticket_edit",
    "ticket_escalate",
    "ticket_grant",
    "ticket_merge",
    "ticket_presence",
    "ticket_priority",
    "ticket_reply",
    "ticket_resolve",
    "ticket_status",
    "ticket_unclaim",
]

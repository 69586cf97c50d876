"""Thin Celery tasks: ids in, call a service, no-op when already done."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task


@shared_task(
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=6,
)
def ticket_event_notify(event_id: int) -> int:
    from .services.notify import ticket_event_send  # services import this module

    return ticket_event_send(event_id=event_id)


@shared_task
def notification_outbox_flush() -> int:
    """Send what was never queued (e.g. Redis was down when the event was written)."""
    from .services.notify import outbox_pending_ids, ticket_event_send

    return sum(ticket_event_send(event_id=pk) for pk in outbox_pending_ids())

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


@shared_task(
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=6,
)
def notifications_send() -> int:
    """Send every pending notification in batches (queued by ``notifications_kick``)."""
    from .services.notify import notifications_send_pending

    return notifications_send_pending()


@shared_task
def notification_outbox_flush() -> int:
    """Send what was never queued (e.g. Redis was down when the event was written)."""
    from datetime import timedelta

    from .services.notify import notifications_send_pending

    return notifications_send_pending(older_than=timedelta(seconds=30))


@shared_task(
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=6,
)
def account_mail_send(*, kind: str, user_id: int) -> bool:
    """One account e-mail: the verification link, or the notice that someone tried to
    sign up with an address that already has an account (queued after commit)."""
    from .services.portal import account_mail_deliver

    return account_mail_deliver(kind=kind, user_id=user_id)


@shared_task(name="tickets.tasks.lifecycle_sweep")
def lifecycle_sweep() -> dict[str, int]:
    """Pending-customer reminders and auto-resolve, auto-close of resolved tickets."""
    from .services.lifecycle import lifecycle_sweep as sweep

    report = sweep()
    return {
        "reminded": len(report.reminded),
        "resolved": len(report.resolved),
        "closed": len(report.closed),
    }

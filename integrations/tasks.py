from __future__ import annotations

from celery import shared_task

from .services import webhook_attempt, webhook_backoff


@shared_task(bind=True, acks_late=True, max_retries=None, ignore_result=True)
def webhook_deliver(
    self, *, webhook_id: int, event_id: int, event_type: str, delivery_id: str
) -> None:
    """One attempt per run; network errors and 5xx come back with exponential backoff
    (the service decides, logging every attempt, and stops after WEBHOOK_MAX_ATTEMPTS)."""
    attempt = self.request.retries + 1
    result = webhook_attempt(
        webhook_id=webhook_id,
        event_id=event_id,
        event_type=event_type,
        delivery_id=delivery_id,
        attempt=attempt,
    )
    if result.retry:
        raise self.retry(countdown=webhook_backoff(attempt))

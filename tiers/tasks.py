"""Thin Celery tasks for the escalation engine: they call ``tiers.services``.

Every task is idempotent (the services re-check the database) and runs with
``acks_late`` + ``reject_on_worker_lost`` (settings), so a task lost with a killed
worker is redone, never half-done: each sweep batch is its own transaction.

Timeliness: beat sends the sweep at priority 0 (Redis serves it before the default
priority of every other task), and notification tasks give their worker process back
every ``NOTIFY_SLICE_SECONDS``, so a sweep waits at most for one short slice. A site
with heavy e-mail traffic can also give the sweep a worker of its own
(``CELERY_TASK_ROUTES`` to an ``escalation`` queue and ``celery worker -Q escalation``).
"""

from __future__ import annotations

from smtplib import SMTPException
from typing import Any

from celery import shared_task

RETRY = {
    "autoretry_for": (SMTPException, ConnectionError, TimeoutError),
    "retry_backoff": True,
    "max_retries": 6,
}


@shared_task(name="tiers.tasks.escalation_sweep")
def escalation_sweep() -> dict[str, Any]:
    """Beat runs this every ESCALATION_SWEEP_SECONDS; the database holds the deadlines."""
    from . import health, services  # services import this module

    report = services.escalation_sweep()
    # Only a sweep that finished counts: /healthz reads this to see the timers run.
    health.periodic_run_record(name=health.SWEEP, duration_ms=report.duration_ms)
    return report.summary()


@shared_task(name="tiers.tasks.vendor_followup")
def vendor_followup() -> dict[str, int]:
    from . import services

    report = services.vendor_followup_sweep()
    return {
        "chased": len(report.chased),
        "overdue": len(report.overdue),
        "alerts_resent": report.alerts_resent,
    }


#: Longest a notification task holds a worker process before handing the rest on.
NOTIFY_SLICE_SECONDS = 0.25


@shared_task(name="tiers.tasks.events_notify", **RETRY)
def events_notify(event_ids: list[int]) -> int:
    """Notifications for a sweep batch, in short slices: the rest goes back to the queue,
    behind the next (higher-priority) escalation sweep. If queueing fails, the outbox
    flush sends the rest later."""
    from . import services

    sent, rest = services.events_notify(event_ids=event_ids, time_budget=NOTIFY_SLICE_SECONDS)
    if rest:
        events_notify.delay(event_ids=rest)
    return sent


@shared_task(name="tiers.tasks.escalation_alert_send", **RETRY)
def escalation_alert_send(event_id: int) -> int:
    from . import services

    return services.escalation_alert_send(event_id=event_id)


@shared_task(name="tiers.tasks.vendor_chase_send", **RETRY)
def vendor_chase_send(handoff_id: int) -> int:
    from . import services

    return services.vendor_chase_send(handoff_id=handoff_id)


@shared_task(name="tiers.tasks.assignment_sweep")
def assignment_sweep() -> dict[str, int]:
    """Assignments a hook missed; tickets of agents away too long move on."""
    from .assignment import assignment_sweep as sweep

    return sweep().summary()


@shared_task(name="tiers.tasks.scheduler_alert_send", **RETRY)
def scheduler_alert_send(last_completed: str, age_s: int) -> int:
    """The managers' e-mail when the sweep went stale (``tiers.health``)."""
    from . import health

    return health.scheduler_alert_mail(last_completed=last_completed, age_s=age_s)

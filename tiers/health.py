"""Are the timers running? The sweep's last completion, its age, and the managers'
alert when it is too old.

Every completed escalation sweep writes its time to ``PeriodicRun`` (one upsert). The
health check (``/healthz``) reads the age; past ``SWEEP_STALE_SECONDS`` it answers 503
and claims the alert with a compare-and-set on ``alerted_at`` (so however many web
nodes and probes see the stale row, the managers are told once per outage): a bell for
every manager at once, in the same transaction, and an e-mail through a task. The
bell does not need a worker, which may be what died; the e-mail waits in the broker
for the first worker back. The next completed sweep clears ``alerted_at``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tickets.services.notify import bell, bells_store, send_templated_mail

from .models import PeriodicRun
from .selectors import managers

logger = logging.getLogger(__name__)

SWEEP = "escalation-sweep"


def periodic_run_record(
    *, name: str, duration_ms: float = 0.0, now: datetime | None = None
) -> None:
    """Record that ``name`` just completed (one ``INSERT … ON CONFLICT UPDATE``)."""
    PeriodicRun.objects.bulk_create(
        [PeriodicRun(name=name, completed_at=now or timezone.now(), duration_ms=duration_ms)],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["completed_at", "duration_ms", "alerted_at"],
    )


def sweep_status(*, now: datetime | None = None) -> dict[str, Any]:
    """The sweep's last completion and age. ``ok`` is ``None`` before the first sweep
    of a new installation (nothing to compare with yet), else whether the age is within
    ``SWEEP_STALE_SECONDS``."""
    now = now or timezone.now()
    threshold = settings.SWEEP_STALE_SECONDS
    run = PeriodicRun.objects.filter(name=SWEEP).only("completed_at", "alerted_at").first()
    if run is None:
        return {"ok": None, "last_completed": None, "age_s": None, "threshold_s": threshold}
    age = max((now - run.completed_at).total_seconds(), 0.0)
    return {
        "ok": age <= threshold,
        "last_completed": run.completed_at.isoformat(),
        "age_s": round(age, 1),
        "threshold_s": threshold,
        "alerted": run.alerted_at is not None,
    }


def sweep_stale_alert(*, now: datetime | None = None) -> bool:
    """Tell the managers that the sweep is stale, once per outage. True if this call
    sent the alert (another node or an earlier probe may already have)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SWEEP_STALE_SECONDS)
    with transaction.atomic():
        claimed = PeriodicRun.objects.filter(
            name=SWEEP, alerted_at__isnull=True, completed_at__lt=cutoff
        ).update(alerted_at=now)
        if not claimed:
            return False
        last = PeriodicRun.objects.get(name=SWEEP).completed_at
        age = int((now - last).total_seconds())
        staff = [p.user for p in managers()]
        text = (
            f"Escalation timers stopped: the last sweep finished {age} s ago. "
            "No ticket is promoted until a scheduler and a worker run again."
        )
        bells_store([bell(ticket=None, event=None, users=staff, text=text)], now=now)
        transaction.on_commit(lambda: _queue_mail(last=last, age=age))
    logger.error("escalation sweep stale: last completed %s (%s s ago)", last, age)
    return True


def _queue_mail(*, last: datetime, age: int) -> None:
    from . import tasks  # tasks import services, which import this module's neighbours

    try:
        tasks.scheduler_alert_send.delay(last_completed=last.isoformat(), age_s=age)
    except Exception:
        # The broker is down as well: the managers have their bell; e-mail directly.
        scheduler_alert_mail(last_completed=last.isoformat(), age_s=age)


def scheduler_alert_mail(*, last_completed: str, age_s: int) -> int:
    """E-mail the stale-sweep alert to the managers and ``MANAGER_ALERT_EMAILS``."""
    emails = sorted(
        {p.user.email for p in managers() if p.user.email} | set(settings.MANAGER_ALERT_EMAILS)
    )
    send_templated_mail(
        to=emails,
        subject="Tierdesk: escalation timers stopped",
        template="scheduler_stale",
        context={
            "last_completed": last_completed,
            "age_s": age_s,
            "health_url": settings.SITE_URL + "/healthz",
        },
    )
    return len(emails)

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def reports_rollup_refresh() -> int:
    """Nightly (and hourly, cheaply): build the finished days' rollups."""
    from .services import rollup_refresh

    return rollup_refresh()

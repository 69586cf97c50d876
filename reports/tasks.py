from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(acks_late=True)
def reports_rollup_refresh() -> int:
    """Nightly (and hourly, cheaply): build the finished days' rollups."""
    from .services import rollup_refresh

    return rollup_refresh()


@shared_task(acks_late=True, ignore_result=True)
def reports_summary_refresh(filters: dict[str, Any]) -> None:
    """Recompute stale dashboard figures off the request (``dashboard_summary_cached``)."""
    from .selectors import DashboardFilters, summary_refresh

    summary_refresh(DashboardFilters.from_dict(filters))

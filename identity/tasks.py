from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def directory_sync() -> str:
    """Periodic LDAP sync (beat: ``identity-directory-sync``). A directory outage is
    logged and left for the next run: it never deprovisions anyone."""
    from .ldap import DirectoryUnavailable
    from .ldap import directory_sync as run

    try:
        return str(run())
    except DirectoryUnavailable as exc:
        logger.warning("identity: directory sync skipped: %s", exc)
        return f"skipped: {exc}"

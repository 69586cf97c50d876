"""The IMAP poller, run by beat every ``EMAIL_POLL_SECONDS`` (a no-op when
``EMAIL_INBOX_URL`` is unset)."""

from __future__ import annotations

import imaplib
import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task
def mailbox_poll() -> int:
    from django.conf import settings

    from .imap import mailbox_poll as poll

    # IDLE until shortly before the next beat: new mail is read within moments
    # instead of at the next poll. A poll that overlaps it returns at once (lock).
    idle = settings.EMAIL_POLL_SECONDS * 0.9 if settings.EMAIL_IMAP_IDLE else 0.0
    try:
        return poll(idle_seconds=idle).fetched
    except (OSError, imaplib.IMAP4.error) as exc:
        # The server is down or refuses us: nothing was taken in that is not
        # committed, and the next beat tries again from the stored UID.
        logger.warning("mailbox poll failed: %s", exc)
        return 0

"""Version counters for cached pieces of pages, so that a write invalidates them.

Each cached entry is stored with the counter value it was computed at (``store``),
and read back together with the counters in one round trip (``fetch``); ``valid``
accepts it only while the counter has not moved. Every write that changes what a
piece shows bumps the counter *after its transaction commits*, so the next read
recomputes. A reader that raced a write may store an entry computed at the old value
after a newer one; the next reader sees the counter differ and recomputes.

- ``TICKETS_KEY``: every ticket write (services in ``tickets/services/``, the
  escalation sweep in ``tiers/services.py``, and any ``Ticket.save()`` through the
  ``post_save`` receiver below), access grants, attachments and vendor hand-offs bump
  it. The agent queue's rows and the agent ticket page's cached block depend on it.
- ``DIRECTORY_KEY`` (``bump_directory_version``): categories, agent profiles and
  users; the queue's filter form and the cached agent profile depend on it.
- ``notif_key(user)``: the notification bell, per user, bumped by notification
  writers (``bump_notifications(user_ids)``).

When Redis is down every function here degrades: ``fetch`` returns ``(None, {})``
(the caller computes, uncached) and a bump is skipped with a log line; entries are
short-lived so that a bump lost that way cannot keep a stale entry alive for long. A
counter that Redis lost (restart, eviction) restarts from the clock in nanoseconds,
never from a value that an old cached entry could still carry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

logger = logging.getLogger(__name__)

TICKETS_KEY = "ver:tickets"
DIRECTORY_KEY = "ver:directory"
#: How long a user's cached unread count lives without any write (a backstop only).
UNREAD_TTL = 60


def notif_key(user_id: int) -> str:
    return f"ver:notif:{user_id}"


def unread_key(user_id: int) -> str:
    return f"unread:{user_id}"


def incr(key: str) -> None:
    """Bump the counter ``key`` now (use ``bump_after_commit`` inside a write)."""
    try:
        try:
            cache.incr(key)
        except ValueError:  # missing: start from the clock, above any value used before
            if not cache.add(key, time.time_ns(), timeout=None):
                cache.incr(key)
    except Exception:  # a cache outage must not fail the write
        logger.warning("could not bump cache version %s", key, exc_info=True)


class _Pending:
    """One bump waiting for the commit; several registrations may share it."""

    __slots__ = ("done", "hooks", "savepoints")

    def __init__(self, hooks: list, savepoints: set) -> None:
        self.hooks, self.savepoints, self.done = hooks, savepoints, False


def _after_commit(key: str, callback: Callable[[], None]) -> None:
    """Run ``callback`` once when the current transaction commits (now outside one).

    Many writes in one transaction (a bulk action, a sweep batch with a savepoint per
    ticket) cost O(1) each and bump once. A pending bump is reused while Django's
    ``run_on_commit`` list is the same object (Django replaces it on every commit and
    on every rollback, of the transaction or of a savepoint, which drops the callbacks
    made inside). A write at the same savepoint level as the pending registration, or
    inside it, needs nothing more; a write outside it (that savepoint was released)
    registers another callback sharing the bump, so that rolling back the savepoint
    it is in cannot drop the only registration."""
    if not connection.in_atomic_block:
        callback()
        return
    registry = connection.__dict__.setdefault("_tierdesk_bumps", {})
    savepoints = set(connection.savepoint_ids)
    pending = registry.get(key)
    if pending is None or pending.done or pending.hooks is not connection.run_on_commit:
        pending = registry[key] = _Pending(connection.run_on_commit, savepoints)
    elif pending.savepoints <= savepoints:
        return
    else:
        pending.savepoints = savepoints
    shared = pending

    def run() -> None:
        if not shared.done:
            shared.done = True
            callback()

    transaction.on_commit(run)


def bump_after_commit(key: str) -> None:
    """Bump the counter ``key`` once the current transaction commits (at once outside
    one): a reader that recomputed before the commit would otherwise store the old
    data under the new version. For rare writes (KB, canned responses, agents); the
    hot ticket paths share one bump per transaction (``_after_commit``)."""
    transaction.on_commit(partial(incr, key))


def bump_tickets_version() -> None:
    """Call after any write that changes what a ticket list shows (one line per write)."""
    _after_commit(TICKETS_KEY, partial(incr, TICKETS_KEY))


def bump_directory_version() -> None:
    """Categories, agent profiles or user names changed (the queue's filter form)."""
    _after_commit(DIRECTORY_KEY, partial(incr, DIRECTORY_KEY))


def bump_notifications(user_ids: Iterable[int | None]) -> None:
    """Call after notifications of these users were created, read or deleted."""
    ids = sorted({i for i in user_ids if i is not None})
    if not ids:
        return

    def run() -> None:
        for user_id in ids:
            incr(notif_key(user_id))

    _after_commit(f"notif:{','.join(map(str, ids))}", run)


def fetch(
    counters: Iterable[str], entries: Iterable[str] = ()
) -> tuple[dict[str, int] | None, dict[str, Any]]:
    """The version ``counters`` and the cached ``entries``, in one round trip.

    Entries are stored with the version they were computed at (``store``) instead of
    under a key naming it, so one ``MGET`` brings both; ``valid`` then checks them.
    A missing counter starts from the clock. ``(None, {})`` when the cache is
    unreachable: the caller computes everything, uncached."""
    counters, entries = list(counters), list(entries)
    try:
        found = cache.get_many([*counters, *entries])
        missing = [c for c in counters if found.get(c) is None]
        if missing:
            for counter in missing:
                cache.add(counter, time.time_ns(), timeout=None)
            found.update(cache.get_many(missing))
            if any(found.get(c) is None for c in counters):
                return None, {}
    except Exception:  # degrade to computing
        logger.warning("cache unreachable: versions", exc_info=True)
        return None, {}
    return {c: found[c] for c in counters}, {e: found[e] for e in entries if e in found}


def valid(entry: Any, version: int) -> Any | None:
    """The payload of a cached entry if it was computed at ``version``, else ``None``.

    A reader that raced a write may store an entry under the old version after a
    newer one was stored; the next reader sees the version differ and recomputes."""
    if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == version:
        return entry[1]
    return None


def store(key: str, version: int, payload: Any, timeout: int) -> None:
    try:
        cache.set(key, (version, payload), timeout)
    except Exception:
        logger.warning("cache unreachable: set %s", key, exc_info=True)


def tickets_version() -> int | None:
    values, _entries = fetch([TICKETS_KEY])
    return values[TICKETS_KEY] if values else None


def unread_count(user: Any, compute: Callable[[], int]) -> int:
    """The user's unread notification count, cached under the user's counter."""
    counter, key = notif_key(user.pk), unread_key(user.pk)
    values, entries = fetch([counter], [key])
    if values is None:
        return compute()
    count = valid(entries.get(key), values[counter])
    if count is None:
        count = compute()
        store(key, values[counter], count, UNREAD_TTL)
    return count


@receiver(post_save, sender="tickets.Ticket", dispatch_uid="tickets-version-save")
@receiver(post_delete, sender="tickets.Ticket", dispatch_uid="tickets-version-delete")
@receiver(post_save, sender="tickets.TicketAccessGrant", dispatch_uid="tickets-version-grant")
@receiver(post_delete, sender="tickets.TicketAccessGrant", dispatch_uid="tickets-version-ungrant")
def _ticket_written(**kwargs: Any) -> None:
    # Every Ticket.save() (services, admin, merges) bumps; QuerySet.update() and
    # bulk writes fire no signal, so their callers bump explicitly. A grant changes
    # which tickets the "all tiers" view lists for its user.
    bump_tickets_version()


@receiver(post_save, sender="tickets.Notification", dispatch_uid="notifications-version-save")
@receiver(post_delete, sender="tickets.Notification", dispatch_uid="notifications-version-del")
def _notification_written(instance: Any, **kwargs: Any) -> None:
    bump_notifications([instance.user_id])


@receiver(post_save, sender="tickets.Category", dispatch_uid="directory-version-category")
@receiver(post_delete, sender="tickets.Category", dispatch_uid="directory-version-category-del")
@receiver(post_save, sender="tiers.AgentProfile", dispatch_uid="directory-version-profile")
@receiver(post_delete, sender="tiers.AgentProfile", dispatch_uid="directory-version-profile-del")
def _directory_written(**kwargs: Any) -> None:
    # The queue's filter form lists categories and agents (by user name).
    bump_directory_version()


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="directory-version-user")
@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="directory-version-user-del")
def _user_written(update_fields: Any = None, **kwargs: Any) -> None:
    # Every login saves last_login, which no list shows.
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    # Signed-in users are read from a memo under this counter (helpdesk.auth): bumped
    # at once as well, so a password change or deactivation is seen by the writer's
    # own later reads (and by code that never commits) before the commit's bump.
    incr(DIRECTORY_KEY)
    bump_directory_version()


@receiver(post_save, sender="tickets.Attachment", dispatch_uid="tickets-version-attachment")
@receiver(post_delete, sender="tickets.Attachment", dispatch_uid="tickets-version-attachment-del")
@receiver(post_save, sender="tiers.VendorHandoff", dispatch_uid="tickets-version-handoff")
@receiver(post_delete, sender="tiers.VendorHandoff", dispatch_uid="tickets-version-handoff-del")
def _ticket_part_written(**kwargs: Any) -> None:
    # The agent ticket page's cached block lists the attachments and the live vendor
    # link. Every service that writes them also adds an event today; this keeps the
    # page right for a write that does not (an admin edit, a future service).
    bump_tickets_version()

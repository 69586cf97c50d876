"""Celery beat with a leader lock: run any number of ``celery beat``; one schedules.

Each beat process holds a PostgreSQL connection of its own and asks for a
session-level advisory lock on it (``pg_try_advisory_lock``). The one that gets it
is the leader and sends the periodic tasks; the others are standbys and ask again
every ``SCHEDULER_STANDBY_SECONDS``. The lock belongs to the connection, so it is
released the moment the leader dies: a killed process closes its socket and its
server backend ends at once; a leader cut off by the network is dropped by TCP
keepalives (below). A leader checks its connection before every tick and steps down
if it is gone, so two leaders never schedule at the same time for longer than one
tick, and even then every periodic task is idempotent (the sweep promotes with a
compare-and-set).

Why PostgreSQL and not a Redis lock (celery-redbeat): the database is already the
one thing every part of Tierdesk needs, and the source of truth for every deadline;
embedded mode (``make run``) has no Redis; and a connection-bound lock hands over
as soon as the leader's connection drops, where a lock with a time-to-live hands
over only when the TTL runs out (redbeat's default is 25 minutes; a short one risks
a leader losing the lock during a slow Redis call).

The schedule itself is celery's in-memory ``Scheduler``: nothing on disk, so a pod
needs no volume. A standby that takes over starts every interval from its own start
time, so jobs overdue by then run at once (they are all idempotent).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from typing import Any

import psycopg2
from celery.beat import Scheduler
from django.conf import settings

logger = logging.getLogger("helpdesk.scheduler")

#: The advisory lock's key: a fixed 64-bit number named after what it guards.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"tierdesk:beat-leader").digest()[:8], "big", signed=True)
#: ``application_name`` of a scheduler's lock connection (``pg_stat_activity`` tells
#: an operator, and the multi-node test, who leads).
APPLICATION_NAME = "tierdesk-scheduler"


def _connect() -> Any:
    from django.db import connections

    params = connections["default"].get_connection_params()
    params.update(
        application_name=f"{APPLICATION_NAME}:{socket.gethostname()}:{os.getpid()}",
        # A leader cut off by the network: its server backend (and lock) goes within
        # ~10 s instead of the kernel's two hours.
        keepalives=1,
        keepalives_idle=5,
        keepalives_interval=2,
        keepalives_count=2,
        connect_timeout=3,
    )
    params.pop("cursor_factory", None)
    conn = psycopg2.connect(**params)
    conn.autocommit = True
    return conn


class LeaderLock:
    """A session-level advisory lock on a connection of its own."""

    def __init__(self, key: int = LOCK_KEY):
        self.key = key
        self.conn: Any = None
        self.held = False

    def acquire_or_keep(self) -> bool:
        """True while this process leads: keeps a held lock (checking the connection
        is alive) or tries to take a free one."""
        try:
            if self.conn is None or self.conn.closed:
                self.held = False
                self.conn = _connect()
            with self.conn.cursor() as cursor:
                if self.held:
                    # Alive means held: the lock lives as long as this session.
                    cursor.execute("SELECT 1")
                else:
                    cursor.execute("SELECT pg_try_advisory_lock(%s)", [self.key])
                    self.held = bool(cursor.fetchone()[0])
        except psycopg2.Error:
            if self.held:
                logger.warning("scheduler: lost the leader lock (database connection gone)")
            self.release()
        return self.held

    def release(self) -> None:
        held, self.held = self.held, False
        if self.conn is not None and not self.conn.closed:
            try:
                if held:
                    with self.conn.cursor() as cursor:
                        cursor.execute("SELECT pg_advisory_unlock(%s)", [self.key])
                self.conn.close()
            except psycopg2.Error:
                pass
        self.conn = None


class LeaderScheduler(Scheduler):
    """celery beat's scheduler, active only while it holds the leader lock."""

    def __init__(self, *args: Any, **kwargs: Any):
        self.lock = LeaderLock()
        self.leading = False
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        standby = settings.SCHEDULER_STANDBY_SECONDS
        leading = self.lock.acquire_or_keep()
        if leading != self.leading:
            self.leading = leading
            if leading:
                logger.warning("scheduler: leading (pid %s)", os.getpid())
                self._heap = None  # rebuilt from the entries on the next tick
            else:
                logger.warning("scheduler: standing by (pid %s)", os.getpid())
        if not leading:
            return standby
        # Check the lock at least as often as a standby would try for it.
        return min(super().tick(*args, **kwargs), standby)

    def close(self) -> None:
        super().close()
        self.lock.release()

    @property
    def info(self) -> str:
        return "    . leader lock: PostgreSQL advisory lock (standby until held)"

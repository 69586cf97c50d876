"""Version tokens for cached shared data, one per kind ("kb", "agents", "canned",
"policies", "webhooks").

A cached piece's key (or a process-local memo) embeds its kind's token; every write
that changes the data replaces the token, so the next read misses and recomputes.
A token is the clock in nanoseconds, never a counter: a token Redis lost restarts
from a value no old entry can carry. Cache down: ``None``, and the caller computes
without caching. Lives outside ``tickets`` so that ``tiers`` and ``integrations``
can use it without importing the tickets app.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.cache import cache

from knowledgebase import cache as kb_cache

logger = logging.getLogger(__name__)


def versions(*names: str) -> dict[str, str | None]:
    """The current version tokens of kinds of shared data ("kb", "agents", "canned"),
    in one round trip. A ``None`` token means the cache is unavailable: the caller
    must not cache anything built on it."""
    keys = {name: _version_key(name) for name in names}
    try:
        found = cache.get_many(list(keys.values()))
        for key in keys.values():
            if key not in found:
                # First use or evicted: a fresh token, never one used before.
                cache.add(key, time.time_ns(), None)
                found[key] = cache.get(key)
    except Exception:
        logger.warning("cache unavailable; shared pieces computed without it")
        return dict.fromkeys(names)
    return {name: None if found[key] is None else str(found[key]) for name, key in keys.items()}


def _version_key(name: str) -> str:
    # The KB's counter is the knowledge base's own (bumped after commit by every
    # article and category write and every vote): one version for all KB caches.
    return kb_cache.VERSION_KEY if name == "kb" else f"pagecache:version:{name}"


def version(name: str) -> str | None:
    return versions(name)[name]


def bump(name: str) -> None:
    """Every key built on ``name``'s version becomes a miss."""
    try:
        cache.set(_version_key(name), time.time_ns(), None)
    except Exception:
        # The TTLs bound how long the old pieces can be served.
        logger.warning("cache unavailable; %s version not bumped", name)


def bump_now_and_after_commit(name: str) -> None:
    """Bump ``name`` at once and again when the surrounding transaction commits.

    The bump after commit is the one that matters: a reader that read the new token
    before the commit may have cached the old rows under it, and the second bump
    retires that entry. The immediate one covers code that never commits (a test's
    transaction) and makes the writer's own later reads in the transaction fresh.
    """
    from django.db import transaction

    bump(name)
    transaction.on_commit(lambda: bump(name))


class VersionedMemo:
    """Process-local values built from rows that rarely change, kept while their kind's
    version token stays the same.

    A read costs one cache round trip (the token) and no query; the values never
    travel through Redis, so they need not be picklable and cost no second round
    trip. Put only plain data in it (frozen dataclasses, tuples), never model
    instances with lazy relations. ``max_age`` bounds what a bump missed while the
    cache was down can leave behind. Cache down: compute, keep nothing.
    """

    def __init__(self, name: str, *, max_age: float = 5 * 60) -> None:
        self.name = name
        self.max_age = max_age
        self._lock = threading.Lock()
        self._state: tuple[str | None, float, dict[Any, Any]] = (None, 0.0, {})
        self._pin: ContextVar[list | None] = ContextVar(f"versioned_memo_{name}", default=None)

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Within the block the token is read once: a ticket create looks up its budget
        rule and its SLA targets, one cache round trip instead of two. A ContextVar
        keeps concurrent threads apart."""
        reset = self._pin.set([])
        try:
            yield
        finally:
            self._pin.reset(reset)

    def _values(self) -> dict[Any, Any] | None:
        box = self._pin.get()
        if box:
            return box[0]
        values = self._current()
        if box is not None:
            box.append(values)
        return values

    def _current(self) -> dict[Any, Any] | None:
        token = version(self.name)
        if token is None:
            return None
        now = time.monotonic()
        with self._lock:
            current, deadline, values = self._state
            if current != token or now >= deadline:
                values = {}
                self._state = (token, now + self.max_age, values)
            return values

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        values = self._values()
        if values is None:
            return compute()
        try:
            return values[key]
        except KeyError:
            # Two threads may both compute; each result is right for the token.
            value = values[key] = compute()
            return value

    def changed(self, **_kwargs: Any) -> None:
        """Signal receiver: a row the values are built from was written or deleted."""
        bump_now_and_after_commit(self.name)

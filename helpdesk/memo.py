"""Process-local memos of rarely written rows, kept under a version counter.

The counters are the project's one primitive (``tickets/versions.py``: ``fetch`` and
``incr``, a counter Redis lost restarting from the clock). This module only adds the
memo: values built from rows that change a few times a year (escalation and SLA
policies, calendars, webhook subscriptions) are kept in the process while their
counter stays the same, so a read costs one cache round trip and no query, and the
values never travel through Redis. Lives outside ``tiers`` and ``integrations`` so
both can use it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from tickets.versions import bump_after_commit, fetch, incr

#: Every memo, so that a request reads all their counters in one round trip.
_REGISTRY: list[VersionedMemo] = []
#: Within a request (``request_scope``): each memo's values, read at its first use
#: together with every other memo's counter (``None``: the cache is down).
_request: ContextVar[dict[VersionedMemo, dict[Any, Any] | None] | None] = ContextVar(
    "memo_request", default=None
)
_UNSCOPED = object()


@contextmanager
def request_scope() -> Iterator[None]:
    """Within the block, the first memo read fetches every memo's counter in one
    round trip and the block keeps them: a ticket submission reads the category list,
    the policies and the webhook list with one ``MGET`` instead of one each. A write
    through ``changed`` drops the writer's own memo from the scope."""
    token = _request.set({})
    try:
        yield
    finally:
        _request.reset(token)


class VersionedMemo:
    """Values kept while the counter ``key`` does not move.

    Put only plain data in it (frozen dataclasses, tuples), never model instances with
    lazy relations. ``max_age`` bounds what a bump missed while the cache was down can
    leave behind. Cache down: compute, keep nothing.
    """

    def __init__(self, key: str, *, max_age: float = 5 * 60, max_entries: int = 0) -> None:
        self.key = key
        self.max_age = max_age
        #: With a bound, values past it are computed every time instead of kept.
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._state: tuple[int | None, float, dict[Any, Any]] = (None, 0.0, {})
        self._pin: ContextVar[list | None] = ContextVar(f"memo_{key}", default=None)
        _REGISTRY.append(self)

    def version(self) -> int | None:
        """The counter now; ``None`` when the cache is unavailable."""
        values, _entries = fetch([self.key])
        return values[self.key] if values else None

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Within the block the counter is read once: a ticket create looks up its
        budget rule and its SLA targets, one cache round trip instead of two; the
        escalation sweep reads each rule once per sweep, also with the cache down. A
        ContextVar keeps concurrent threads apart."""
        reset = self._pin.set([])
        try:
            yield
        finally:
            self._pin.reset(reset)

    def _values(self) -> dict[Any, Any] | None:
        box = self._pin.get()
        if box:
            return box[0]
        values = self._scoped()
        if values is _UNSCOPED:
            values = self._current()
        if box is not None:
            # Cache down: nothing is kept in the process, but the block still computes
            # each value once (the escalation sweep reads the same few rules per ticket).
            box.append({} if values is None else values)
        return values if box is None else box[0]

    def _scoped(self) -> Any:
        scope = _request.get()
        if scope is None:
            return _UNSCOPED
        if self not in scope:
            memos = [m for m in _REGISTRY if m not in scope]
            tokens, _entries = fetch(m.key for m in memos)
            for memo in memos:
                scope[memo] = None if tokens is None else memo._at(tokens[memo.key])
        return scope[self]

    def _current(self) -> dict[Any, Any] | None:
        token = self.version()
        return None if token is None else self._at(token)

    def _at(self, token: int) -> dict[Any, Any]:
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
            value = compute()
            if not self.max_entries or len(values) < self.max_entries:
                # Two threads may both compute; each result is right for the counter.
                values[key] = value
            return value

    def changed(self, **_kwargs: Any) -> None:
        """Signal receiver: a row the values are built from was written or deleted.

        Bumped after commit (a reader that recomputed before the commit would keep
        the old rows under the new counter) and at once, so that the writer's own
        later reads in its transaction, and code that never commits (a test's
        transaction), see the change too."""
        incr(self.key)
        bump_after_commit(self.key)
        scope = _request.get()
        if scope is not None:
            scope.pop(self, None)

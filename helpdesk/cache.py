"""The one cache module: every cached piece of a page is built with what is here.

- **Version counters** (``TICKETS``, ``DIRECTORY``, ``KB``, …, listed below): a cached
  entry is valid while the counter it was computed at has not moved. Counters are
  bumped after the writing transaction commits (``bump``), by the model receivers
  each app declares in its ``apps.py`` (``bump_on``) and by the ticket write path
  (``tickets/services/events.py``) for its bulk writes. A page reads its counters and
  its entries in one round trip (``fetch``, ``under``, ``shared``).
- **Fragments** (``render_fragment``/``fill``): HTML rendered once with the CSRF
  token and live slots as markers, filled per request.
- **Per-process memos** (``VersionedMemo``): rarely written rows kept in the process
  under a counter; a request reads all memo counters once (``request_scope``).
- **Redis down**: every read here degrades to computing (``fetch`` gives ``None``,
  ``call`` gives ``DOWN``), every bump is skipped with a log line; entries are
  short-lived so that a lost bump cannot keep a stale entry for long.

The backends: Django's Redis backend with one client per connection pool (Django's
``get_client`` builds a ``redis.Redis`` per call, which with redis-py 8 costs about a
network round trip), and Django's database backend (the embedded install, no Redis)
with an atomic ``incr``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import pickle
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any

from django.core.cache import cache
from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.db import connection, connections, router, transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import now

logger = logging.getLogger(__name__)

#: ``INCRBY`` only if the key exists, in one round trip: Django's ``incr`` asks
#: ``EXISTS`` first and then ``INCRBY`` (two round trips, and a key that expires in
#: between is created at ``delta``). Version counters are bumped on every ticket write.
_INCR_EXISTING = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return false
"""


class _Client(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}
        self._scripts: dict[int, Any] = {}

    def incr(self, key: Any, delta: int) -> int:
        client = self.get_client(key, write=True)
        script = self._scripts.get(id(client))
        if script is None:  # EVALSHA, loading the script on first use
            script = self._scripts[id(client)] = client.register_script(_INCR_EXISTING)
        value = script(keys=[key], args=[delta])
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(
                connection_pool=self._get_connection_pool(write)
            )
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: dict) -> None:
        super().__init__(server, params)
        self._class = _Client


class DatabaseCache(DjangoDatabaseCache):
    """Django's database cache, whose ``incr`` is a ``get`` and a ``set``: two processes
    counting the same rate-limit window lose hits, and the ``set`` replaces the window's
    expiry with the default timeout. Here the row is locked, and only its value changes.
    """

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        key = self.make_and_validate_key(key, version=version)
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        table = connection.ops.quote_name(self._table)
        with transaction.atomic(using=db), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT value FROM {table} WHERE cache_key = %s AND expires > %s FOR UPDATE",  # noqa: S608 - the table name is ours
                [key, now()],
            )
            row = cursor.fetchone()
            if row is None:
                raise ValueError(f"Key '{key}' not found.")
            value = pickle.loads(base64.b64decode(row[0])) + delta  # noqa: S301 - our own rows
            encoded = base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")
            cursor.execute(
                f"UPDATE {table} SET value = %s WHERE cache_key = %s",  # noqa: S608
                [encoded, key],
            )
        return value


# ---------------------------------------------------------------------------
# Version counters
# ---------------------------------------------------------------------------
#: Ticket rows, access grants, attachments, vendor hand-offs: the agent queue's rows
#: and the agent ticket page's block. Bumped by the model receivers declared in
#: ``tickets/apps.py`` and by the ticket write path for its bulk writes.
TICKETS = "ver:tickets"
#: Categories, agent profiles, user rows: the queue's filter form, the cached agent
#: profile, the signed-in user memo (``helpdesk.auth``), the category memos.
DIRECTORY = "ver:directory"
#: Articles, KB categories and votes: every KB search piece and suggestion.
KB = "ver:kb"
#: Active agents (profiles, usernames): the ticket page's agent pickers.
AGENTS = "ver:agents"
#: Canned responses: the ticket page's canned list.
CANNED = "ver:canned"
#: Escalation and SLA policies, calendars, hours, holidays (``tiers/apps.py``).
POLICIES = "ver:policies"
#: Webhook subscriptions (``integrations/apps.py``).
WEBHOOKS = "ver:webhooks"


def notifications(user_id: int) -> str:
    """The counter of one user's notifications (the bell)."""
    return f"ver:notif:{user_id}"


def incr(key: str) -> None:
    """Bump ``key`` now. A counter Redis lost restarts from the clock in nanoseconds,
    never from a value an old cached entry could still carry."""
    try:
        try:
            cache.incr(key)
        except ValueError:
            if not cache.add(key, time.time_ns(), timeout=None):
                cache.incr(key)
    except Exception:  # a cache outage must not fail the write
        logger.warning("could not bump cache version %s", key, exc_info=True)


class _Pending:
    """One bump waiting for the commit; several registrations may share it."""

    __slots__ = ("done", "hooks", "savepoints")

    def __init__(self, hooks: list, savepoints: set) -> None:
        self.hooks, self.savepoints, self.done = hooks, savepoints, False


def bump(*keys: str, at_once: bool = False) -> None:
    """Bump each counter once the current transaction commits (at once outside one):
    a reader that recomputed before the commit would otherwise keep the old rows under
    the new version. ``at_once`` also bumps now, so that the writer's own later reads
    in its transaction (and code that never commits, a test's) see the change.

    For the ``_SHARED_BUMPS`` counters many writes in one transaction (a bulk action,
    a sweep batch with a savepoint per ticket) cost O(1) each and bump once. A pending bump is reused while Django's
    ``run_on_commit`` list is the same object (Django replaces it on every commit and
    on every rollback, of the transaction or of a savepoint, which drops the callbacks
    made inside). A write at the same savepoint level as the pending registration, or
    inside it, needs nothing more; a write outside it registers another callback
    sharing the bump, so that rolling back its savepoint cannot drop the only one."""
    scope = _request.get()
    for key in keys:
        if scope is not None:
            scope.pop(key, None)
        if at_once:
            incr(key)
        _bump_after_commit(key)


#: The counters many writes of one transaction bump (a bulk action, a sweep batch):
#: their bumps are shared. The others register one callback per write.
_SHARED_BUMPS = (TICKETS, DIRECTORY, "ver:notif:")


def _bump_after_commit(key: str) -> None:
    if not connection.in_atomic_block:
        incr(key)
        return
    if not key.startswith(_SHARED_BUMPS):
        transaction.on_commit(partial(incr, key))
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
            incr(key)

    transaction.on_commit(run)


def bump_on(
    counter: str | Callable[[Any], str],
    *models: str,
    at_once: bool = False,
    skip: Callable[[dict[str, Any]], bool] | None = None,
) -> None:
    """Every save and delete of ``models`` (``"app_label.Model"``) bumps ``counter``
    (or ``counter(instance)``), whichever process writes (web, Celery, commands).
    ``skip(signal kwargs)`` leaves out writes no cached piece shows. Called from each
    app's ``ready``: the list of what invalidates what lives in the ``apps.py`` files."""

    def receiver(instance: Any = None, **kwargs: Any) -> None:
        if skip is None or not skip(kwargs):
            bump(counter(instance) if callable(counter) else counter, at_once=at_once)

    _receivers.append(receiver)  # signals keep weak references
    for model in models:
        uid = f"bump:{counter if isinstance(counter, str) else counter.__name__}:{model}"
        post_save.connect(receiver, sender=model, dispatch_uid=uid)
        post_delete.connect(receiver, sender=model, dispatch_uid=uid + ":del")


_receivers: list[Callable[..., None]] = []


def fetch(
    counters: Iterable[str], entries: Iterable[str] = ()
) -> tuple[dict[str, int] | None, dict[str, Any]]:
    """The ``counters`` and the cached ``entries``, in one round trip.

    Entries are stored with the version they were computed at (``store``) instead of
    under a key naming it, so one ``MGET`` brings both; ``valid`` checks them. A
    missing counter starts from the clock. ``(None, {})`` when the cache is down:
    the caller computes everything, uncached."""
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
    except Exception:
        logger.warning("cache unreachable: versions", exc_info=True)
        return None, {}
    return {c: found[c] for c in counters}, {e: found[e] for e in entries if e in found}


def version(key: str) -> int | None:
    """The counter now; ``None`` when the cache is down."""
    values, _entries = fetch([key])
    return values[key] if values else None


def valid(entry: Any, version: Any) -> Any | None:
    """The payload of a cached entry if it was computed at ``version``, else ``None``.
    A reader that raced a write may store an entry under the old version after a
    newer one; the next reader sees the version differ and recomputes."""
    if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == version:
        return entry[1]
    return None


def store(key: str, version: Any, payload: Any, timeout: int) -> None:
    try:
        cache.set(key, (version, payload), timeout)
    except Exception:
        logger.warning("cache unreachable: set %s", key, exc_info=True)


def under(counter: str, key: str, compute: Callable[[], Any], timeout: int) -> Any:
    """``compute()`` cached at ``key`` while ``counter`` does not move (one round trip
    for both on a hit). Cache down: computed every time."""
    values, entries = fetch([counter], [key])
    if values is None:
        return compute()
    value = valid(entries.get(key), values[counter])
    if value is None:
        value = compute()
        store(key, values[counter], value, timeout)
    return value


def shared(pieces: dict[str, tuple[str | None, Callable[[], Any]]], timeout: int) -> dict[str, Any]:
    """Several pieces whose keys name the versions they depend on (``{name: (key,
    compute)}`` → ``{name: value}``) in one round trip; a write moves the version, so
    the next reader asks for a new key. A ``None`` key (its version was not
    available) is computed every time; a cache error means computing everything."""
    keys = [key for key, _compute in pieces.values() if key is not None]
    found: dict[str, Any] | None = None
    if keys:
        try:
            found = cache.get_many(keys)
        except Exception:
            logger.warning("cache unavailable; shared pieces computed without it")
    out: dict[str, Any] = {}
    fresh: dict[str, Any] = {}
    for name, (key, compute) in pieces.items():
        value = found.get(key) if found is not None and key is not None else None
        if value is None:
            value = compute()
            if key is not None and found is not None:
                fresh[key] = value
        out[name] = value
    if fresh:
        try:
            cache.set_many(fresh, timeout)
        except Exception:
            logger.warning("cache unavailable; shared pieces not stored")
    return out


def digest(text: str) -> str:
    """A short, fixed-length key part for any text."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


#: What ``call`` returns when the cache is down.
DOWN = object()


def call(method: str, *args: Any, **kwargs: Any) -> Any:
    """A cache operation that returns ``DOWN`` instead of raising when the cache is
    unreachable (for callers with their own policy, e.g. stale-while-revalidate)."""
    try:
        return getattr(cache, method)(*args, **kwargs)
    except Exception:
        logger.warning("cache unavailable (%s)", method)
        return DOWN


# ---------------------------------------------------------------------------
# Per-process memos under a counter
# ---------------------------------------------------------------------------
#: Every memo, so that a request reads all their counters in one round trip.
_REGISTRY: list[VersionedMemo] = []
#: Within a request (``request_scope``): each memo counter's values, read at the first
#: memo use together with every other memo's counter (``None``: the cache is down).
_request: ContextVar[dict[str, dict[Any, Any] | None] | None] = ContextVar(
    "memo_request", default=None
)
_UNSCOPED = object()


@contextmanager
def request_scope() -> Iterator[None]:
    """Within the block the first memo read fetches every memo's counter in one round
    trip and the block keeps them; a ``bump`` drops its counter from the scope."""
    token = _request.set({})
    try:
        yield
    finally:
        _request.reset(token)


class VersionedMemo:
    """Values built from rarely written rows, kept in the process while the counter
    ``key`` does not move: a read costs one cache round trip (per request) and no
    query, and the values never travel through Redis.

    Put only plain data in it (frozen dataclasses, tuples), never model instances
    with lazy relations. ``max_age`` bounds what a bump missed while the cache was
    down can leave behind. Cache down: compute, keep nothing.
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
        return version(self.key)

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Within the block the counter is read once (the escalation sweep reads each
        rule once per sweep, also with the cache down)."""
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
            token = self.version()
            values = None if token is None else self._at(token)
        if box is not None:
            # Cache down: nothing is kept in the process, but the block still
            # computes each value once.
            box.append({} if values is None else values)
        return values if box is None else box[0]

    def _scoped(self) -> Any:
        scope = _request.get()
        if scope is None:
            return _UNSCOPED
        if self.key not in scope:
            keys = list(dict.fromkeys(m.key for m in _REGISTRY if m.key not in scope))
            tokens, _entries = fetch(keys)
            for key in keys:
                scope[key] = None if tokens is None else tokens[key]
        token = scope[self.key]
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
                values[key] = value  # two threads may both compute; both are right
            return value


# ---------------------------------------------------------------------------
# Fragments: rendered once, served to many, with the per-request pieces left out
# ---------------------------------------------------------------------------
#: The marker name of ``{% csrf_token %}`` in a fragment.
CSRF = "csrf"


def render_fragment(
    template_name: str,
    context: dict[str, Any],
    request: HttpRequest | None,
    slots: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``template_name`` rendered with ``csrf_token`` and each of ``slots`` (context
    names the template prints with ``{{ name }}``) replaced by a marker: a random nonce
    drawn for this rendering, so text typed by a user cannot forge one. ``fill`` puts
    the requester's own token and the live slots in; a stored fragment never carries
    a token. The view context wins over the context processors, so the CSRF context
    processor's lazy token is never evaluated here. A plain dict, cacheable as is."""
    nonce = secrets.token_hex(12)
    markers = {name: f"fragment-{name}-{nonce}" for name in (CSRF, *slots)}
    html = render_to_string(
        template_name,
        {**context, "csrf_token": markers[CSRF], **{n: markers[n] for n in slots}},
        request=request,
    )
    return {"markers": markers, "html": html}


def fill(fragment: dict[str, Any], request: HttpRequest, **slots: str) -> SafeString:
    """The fragment's HTML with the requester's CSRF token (``get_token`` also makes
    the response set the cookie) and the live ``slots`` (escaped HTML) in place."""
    html = fragment["html"]
    markers = fragment["markers"]
    if markers[CSRF] in html:
        html = html.replace(markers[CSRF], get_token(request))
    for name, value in slots.items():
        html = html.replace(markers[name], value)
    return mark_safe(html)  # rendered by our templates; slot values are escaped HTML

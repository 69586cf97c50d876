"""Shared pieces of the agent ticket page, cached under versioned keys.

Only data that is the same for every reader of a visibility class (an agent tier, or
managers) is cached here: KB article choices and suggestions, the active agents, the
canned responses. Nothing per user, no
CSRF token, no HTML with forms. Every read and write tolerates a cache outage: the
caller computes and the page still answers.

Each kind of data has a version token in the cache, replaced on every save or delete
of its rows (signals connected in ``TicketsConfig.ready``, so the web, Celery and
management commands all bump it). Keys built on it go stale the moment an article is
published, edited, archived or deleted, an agent profile changes, a canned response
is edited; the TTLs only bound what a missed bump (the cache down at
the moment of a write) or a counter update (``helpful_yes``, which only reorders
suggestions) can leave behind.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from django.core.cache import cache

logger = logging.getLogger(__name__)

#: How long a shared piece may live without a write that bumps its version.
KB_TTL = 10 * 60


def versions(*names: str) -> dict[str, str | None]:
    """The current version tokens of kinds of shared data ("kb", "agents", "canned"),
    in one round trip. A ``None`` token means the cache is unavailable: the caller
    must not cache anything built on it."""
    keys = {name: f"pagecache:version:{name}" for name in names}
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


def version(name: str) -> str | None:
    return versions(name)[name]


def bump(name: str) -> None:
    """Every key built on ``name``'s version becomes a miss."""
    try:
        cache.set(f"pagecache:version:{name}", time.time_ns(), None)
    except Exception:
        # The TTLs bound how long the old pieces can be served.
        logger.warning("cache unavailable; %s version not bumped", name)


def kb_version() -> str | None:
    return version("kb")


def kb_version_bump(**_kwargs: Any) -> None:
    """Signal receiver: any article write makes every KB-derived key a miss."""
    bump("kb")


def agents_version_bump(**kwargs: Any) -> None:
    """Signal receiver for AgentProfile (any write) and User (a username change: the
    agent pickers show it; a login's ``last_login`` update does not count)."""
    fields = kwargs.get("update_fields")
    sender = kwargs.get("sender")
    is_user = sender is not None and sender.__name__ != "AgentProfile"
    if is_user and fields is not None and "username" not in fields:
        return
    bump("agents")


def canned_version_bump(**_kwargs: Any) -> None:
    bump("canned")


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cached(key: str | None, compute: Any, ttl: int = KB_TTL) -> Any:
    """``compute()`` shared under ``key``; no key (cache unavailable) or a cache
    error means computing it here."""
    if key is None:
        return compute()
    try:
        value = cache.get(key)
    except Exception:
        value = None
        key = None
    if value is not None:
        return value
    value = compute()
    if key is not None:
        try:
            cache.set(key, value, ttl)
        except Exception:
            logger.warning("cache unavailable; %s not shared", key.split(":")[0])
    return value

"""Shared pieces of the agent ticket page, cached under versioned keys.

Only data that is the same for every reader of a visibility class (an agent tier, or
managers) is cached here: KB article choices and suggestions. Nothing per user, no
CSRF token, no HTML with forms. Every read and write tolerates a cache outage: the
caller computes and the page still answers.

The KB version is a token in the cache, replaced on every article save or delete
(signals connected in ``TicketsConfig.ready``, so the web, Celery and management
commands all bump it). Keys built on it go stale the moment an article is published,
edited, archived or deleted; the TTLs only bound what a missed bump (the cache down at
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

KB_VERSION_KEY = "kb:version"
#: How long suggestions and article choices may live without a KB write.
KB_TTL = 10 * 60


def kb_version() -> str | None:
    """The current KB version token; ``None`` when the cache is unavailable (then the
    caller must not cache anything built on the KB)."""
    try:
        version = cache.get(KB_VERSION_KEY)
        if version is None:
            # First use or evicted: a fresh token, never one used before.
            cache.add(KB_VERSION_KEY, time.time_ns(), None)
            version = cache.get(KB_VERSION_KEY)
    except Exception:
        logger.warning("cache unavailable; KB pieces computed without it")
        return None
    return None if version is None else str(version)


def kb_version_bump(**_kwargs: Any) -> None:
    """Signal receiver: any article write makes every KB-derived key a miss."""
    try:
        cache.set(KB_VERSION_KEY, time.time_ns(), None)
    except Exception:
        # The TTLs bound how long the old pieces can be served.
        logger.warning("cache unavailable; KB version not bumped")


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

"""Cached KB reads, named by a version counter that every KB write bumps.

The search page's topic facet counts every published article a reader may see
(a sequential scan and an aggregate over the whole table: 6-18 ms at 10,000
articles) on every view, although it changes only when an article is published,
archived, edited or moved, or when a category is renamed. It is cached per
*visibility class* (what ``selectors._audience_filter`` decides: anonymous and
customers see the public articles, an agent those up to their tier, a manager all),
never per user, and under the KB version: the key embeds the counter, so after a
write the next view misses and recomputes.

- Every ``Article`` or ``Category`` save/delete bumps the version after its
  transaction commits (receivers below, connected in ``apps.py``); a rolled-back
  write bumps nothing. ``QuerySet.update()`` sends no signal: code that changes
  what a cached piece shows that way calls ``kb_changed()`` itself.
- A reader that read the old version and raced a write at worst stores a stale
  entry under the old key, which nobody asks for any more.
- Redis down: reads return ``None`` and the caller computes, uncached; a bump is
  skipped with a log line. A counter Redis lost restarts from the clock in
  nanoseconds, never from a value an old entry could still carry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.cache import cache

from tickets.versions import bump_after_commit

if TYPE_CHECKING:
    from .selectors import AnyUser

logger = logging.getLogger(__name__)

VERSION_KEY = "ver:kb"
#: A backstop only: entries are named by the version, so they never need to expire
#: to be correct; this bounds what an unused class leaves in Redis.
TTL = 24 * 3600


def kb_version() -> int | None:
    """The current version, ``None`` when the cache is unavailable."""
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            version = time.time_ns()
            if not cache.add(VERSION_KEY, version, timeout=None):
                version = cache.get(VERSION_KEY)
    except Exception:
        logger.warning("KB cache unavailable; computing uncached", exc_info=True)
        return None
    return version


def kb_changed() -> None:
    """Something the cached KB pieces show changed: bump the version when the current
    transaction commits (at once outside one)."""
    bump_after_commit(VERSION_KEY)


def visibility_class(user: AnyUser) -> str:
    """The part of the key that says which articles a reader may see; readers in
    one class see exactly the same articles (``selectors._audience_filter``)."""
    from tiers.selectors import user_is_manager, user_max_tier

    if user_is_manager(user):
        return "all"
    max_tier = user_max_tier(user)
    return f"tier{max_tier}" if max_tier else "public"


def cached(name: str, user: AnyUser, compute: Callable[[], Any]) -> Any:
    """``compute()``'s result for this visibility class, from the cache when the KB
    has not changed since it was stored (``cached_many`` with one piece)."""
    return cached_many(user, {name: compute})[name]


def cached_many(user: AnyUser, pieces: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Several pieces for one reader in two Redis round trips (the version, then all
    the entries at once) instead of two per piece; what is missing is computed and
    stored. Redis down: everything is computed here, uncached, with a log line."""
    version = kb_version()
    if version is None:
        return {name: compute() for name, compute in pieces.items()}
    keys = {name: f"kb:{name}:{visibility_class(user)}:{version}" for name in pieces}
    try:
        found = cache.get_many(list(keys.values()))
    except Exception:
        logger.warning("KB cache unavailable; computing uncached", exc_info=True)
        return {name: compute() for name, compute in pieces.items()}
    out, missing = {}, {}
    for name, key in keys.items():
        if key in found:
            out[name] = found[key]
        else:
            out[name] = missing[key] = pieces[name]()
    if missing:
        try:
            cache.set_many(missing, timeout=TTL)
        except Exception:
            logger.warning("could not store KB pieces in the cache", exc_info=True)
    return out


def _on_write(sender, **kwargs) -> None:
    kb_changed()


def connect() -> None:
    from django.db.models.signals import post_delete, post_save

    from tickets.models import Category

    from .models import Article

    for model in (Article, Category):
        post_save.connect(_on_write, sender=model, dispatch_uid=f"kb-cache-{model.__name__}-save")
        post_delete.connect(
            _on_write, sender=model, dispatch_uid=f"kb-cache-{model.__name__}-delete"
        )

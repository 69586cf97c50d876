"""Shared pieces of the agent ticket page, cached under versioned keys.

Only data that is the same for every reader of a visibility class (an agent tier, or
managers) is cached here: KB article choices and suggestions, the active agents, the
canned responses. Nothing per user, no
CSRF token, no HTML with forms. Every read and write tolerates a cache outage: the
caller computes and the page still answers.

Each kind of data has a version token in the cache, bumped after the commit of every
save or delete of its rows (signals connected in ``TicketsConfig.ready``, so the web, Celery and
management commands all bump it). Keys built on it go stale the moment an article is
published, edited, archived or deleted, an agent profile changes, a canned response
is edited; the TTLs only bound what a missed bump (the cache down at
the moment of a write) or a counter update (``helpful_yes``, which only reorders
suggestions) can leave behind.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import quote

from django.core.cache import cache
from django.urls import get_script_prefix, reverse
from django.utils import translation
from django.utils.http import RFC3986_SUBDELIMS

from knowledgebase import cache as kb_cache

from .versions import bump_after_commit, fetch

logger = logging.getLogger(__name__)

#: How long a shared piece may live without a write that bumps its version.
KB_TTL = 10 * 60


def versions(*names: str) -> dict[str, str | None]:
    """The current version tokens of kinds of shared data ("kb", "agents", "canned"),
    in one round trip. A ``None`` token means the cache is unavailable: the caller
    must not cache anything built on it."""
    keys = {name: _version_key(name) for name in names}
    # The counters' one reader (tickets/versions.py): a missing counter starts from
    # the clock, an outage gives ``None``.
    values, _entries = fetch(keys.values())
    if values is None:
        return dict.fromkeys(names)
    return {name: str(values[key]) for name, key in keys.items()}


def _version_key(name: str) -> str:
    # The KB's counter is the knowledge base's own (bumped after commit by every
    # article and category write and every vote): one version for all KB caches.
    return kb_cache.VERSION_KEY if name == "kb" else f"pagecache:version:{name}"


def version(name: str) -> str | None:
    return versions(name)[name]


def bump(name: str) -> None:
    """Every key built on ``name``'s version becomes a miss once the write commits."""
    bump_after_commit(_version_key(name))


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


def cached_many(pieces: dict[str, tuple[str | None, Any]]) -> dict[str, Any]:
    """Several ``cached`` pieces in one round trip: ``{name: (key, compute)}`` →
    ``{name: value}``. A ``None`` key (its version was not available) is computed
    every time; a cache error means computing everything here."""
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
            cache.set_many(fresh, KB_TTL)
        except Exception:
            logger.warning("cache unavailable; shared pieces not stored")
    return out


# ---------------------------------------------------------------------------
# URLs without a reverse() per link
# ---------------------------------------------------------------------------
_URL_TEMPLATES: dict[tuple[str, str, str], str] = {}
#: Placeholders that every converter accepts (``<int:pk>`` needs digits).
_INT_MARK = "8675309012345"
_STR_MARK = "zz--placeholder--zz"


def url_for(name: str, kwarg: str, value: Any) -> str:
    """``reverse(name, kwargs={kwarg: value})`` for one-argument URLs, from a template
    reversed once per process (and per script prefix): a ticket page has ~30 links
    and each reverse() costs ~0.1 ms. Values are quoted as reverse() quotes them."""
    if isinstance(value, str) and "/" in value:
        return reverse(name, kwargs={kwarg: value})  # let the resolver refuse it
    prefix = get_script_prefix()
    mark = _INT_MARK if isinstance(value, int) else _STR_MARK
    key = (prefix, name, kwarg + mark)
    template = _URL_TEMPLATES.get(key)
    if template is None:
        template = _URL_TEMPLATES[key] = reverse(name, kwargs={kwarg: mark})
    return template.replace(mark, quote(str(value), safe=RFC3986_SUBDELIMS + "/~:@"), 1)


# ---------------------------------------------------------------------------
# Choice labels without get_FOO_display() in loops
# ---------------------------------------------------------------------------
_LABELS: dict[tuple[str | None, type], dict[str, str]] = {}


def labels(choices: type) -> dict[str, str]:
    """``{value: label}`` of a TextChoices class in the active language, built once per
    process and language: ``get_FOO_display()`` hashes every lazy label of the field's
    choices (~30 translations for an event kind) on each call."""
    key = (translation.get_language(), choices)
    found = _LABELS.get(key)
    if found is None:
        found = _LABELS[key] = {value: str(label) for value, label in choices.choices}
    return found

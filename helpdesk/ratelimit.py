"""Fixed-window rate limits in the Django cache (Redis in production, so every web
node shares the counters). A cache outage fails open: abuse limits must never take
ticket submission down."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    retry_after: int
    count: int


def _redis_counts(cache_keys: Sequence[str], timeout: int) -> list[int] | None:
    """On Django's Redis cache: create-with-expiry and increment every key in one round
    trip (``SET NX EX`` + ``INCR`` pipelined per key) instead of two per key (``add``
    then ``incr``): a ticket submission counts its IP and its e-mail address.
    ``None`` on any other backend. Django stores integers unserialized, so
    ``peek``/``reset`` read the same value."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    backend = caches["default"]  # the backend itself (``cache`` is a proxy to it)
    if not isinstance(backend, RedisCache):
        return None
    keys = [backend.make_and_validate_key(k) for k in cache_keys]
    client = backend._cache.get_client(keys[0], write=True)
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, 0, ex=timeout, nx=True)
        pipe.incr(key)
    return [int(n) for n in pipe.execute()[1::2]]


def hit(key: str, *, limit: int, window: int) -> RateLimitResult:
    """Count one hit on ``key``; allowed while the window's count is within ``limit``."""
    return hit_many([(key, limit)], window=window)[0]


def hit_many(keys: Sequence[tuple[str, int]], *, window: int) -> list[RateLimitResult]:
    """Count one hit on each ``(key, limit)`` of the same window, in one round trip."""
    now = int(time.time())
    bucket = now // window
    cache_keys = [f"rl:{key}:{bucket}" for key, _limit in keys]
    try:
        counts = _redis_counts(cache_keys, window + 5)
        if counts is None:
            counts = []
            for cache_key in cache_keys:
                cache.add(cache_key, 0, timeout=window + 5)
                counts.append(cache.incr(cache_key))
    except Exception:  # cache down: fail open, but say so in the logs
        logger.warning("rate limit cache unavailable; allowing %s", ", ".join(k for k, _ in keys))
        return [RateLimitResult(True, 0, 0) for _ in keys]
    retry_after = max((bucket + 1) * window - now, 1)
    return [
        RateLimitResult(count <= limit, retry_after, count)
        for count, (_key, limit) in zip(counts, keys, strict=True)
    ]


def peek(key: str, *, window: int) -> int:
    bucket = int(time.time()) // window
    try:
        return int(cache.get(f"rl:{key}:{bucket}", 0))
    except Exception:
        return 0


def seconds_left(*, window: int) -> int:
    """Seconds until the current fixed window ends (when its counters start over)."""
    now = int(time.time())
    return max((now // window + 1) * window - now, 1)


def reset(key: str, *, window: int) -> None:
    """Forget the current window's count of ``key`` (e.g. after a successful login)."""
    bucket = int(time.time()) // window
    try:
        cache.delete(f"rl:{key}:{bucket}")
    except Exception:
        logger.warning("rate limit cache unavailable; could not reset %s", key)


def client_ip(request: HttpRequest) -> str:
    """The client address. Behind a proxy, set TIERDESK_TRUSTED_PROXY_HOPS (see README)
    so the right X-Forwarded-For entry is used; never trust it blindly."""
    from django.conf import settings

    hops = getattr(settings, "TRUSTED_PROXY_HOPS", 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops and forwarded:
        parts = [p.strip() for p in forwarded.split(",") if p.strip()]
        if len(parts) >= hops:
            return parts[-hops]
    return request.META.get("REMOTE_ADDR", "unknown")

"""Sessions read from the cache, written through to the database.

Django's ``cached_db`` store saves one query on every request (the session row), but
its ``load`` raises when the cache is down, and every page would answer 500 while
Redis is away. This store falls back to the database instead, so a cache outage costs
speed, not logins. Logging in (``cycle_key``) drops the old anonymous session's cache
copy if it can; logging out (``flush``) is left strict: a signed-in session whose cache
copy could not be removed must not keep working after the cache returns.
"""

from __future__ import annotations

import logging

from django.contrib.sessions.backends import cached_db, db

logger = logging.getLogger(__name__)


class SessionStore(cached_db.SessionStore):
    def load(self) -> dict:
        try:
            data = self._cache.get(self.cache_key)
        except Exception:  # any cache failure: the database has it
            logger.warning("session cache unavailable; reading the session from the database")
            data = None
        if data is not None:
            return data
        stored = self._get_session_from_db()
        if not stored:
            return {}
        data = self.decode(stored.session_data)
        try:
            self._cache.set(self.cache_key, data, self.get_expiry_age(expiry=stored.expire_date))
        except Exception:
            logger.warning("session cache unavailable; session not cached")
        return data

    def exists(self, session_key: str | None) -> bool:
        try:
            if session_key and (self.cache_key_prefix + session_key) in self._cache:
                return True
        except Exception:
            logger.warning("session cache unavailable; checking the database")
        # The database store's check: cached_db's own would ask the cache again.
        return db.SessionStore.exists(self, session_key)

    def cycle_key(self) -> None:
        """Log in under a new key. The old key's cache copy holds only what the anonymous
        session held, so failing to drop it must not refuse the login."""
        data = self._session
        key = self.session_key
        self.create()
        self._session_cache = data
        if key:
            try:
                self.delete(key)
            except Exception:
                logger.warning("session cache unavailable; the old session's copy stays cached")

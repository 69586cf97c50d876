"""The cache backends: Django's Redis backend with one client per connection pool, and
Django's database backend (the embedded install, no Redis) with an atomic ``incr``.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` on every cache
call; with redis-py 8 that costs about as much as the network round trip itself
(0.2 ms measured here: the client's command-callback tables are rebuilt each time),
and a page makes several cache calls. A ``redis.Redis`` is thread-safe and holds no
connection of its own (the pool does), so one per pool is enough.
"""

from __future__ import annotations

import base64
import pickle
from typing import Any

from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.db import connections, router, transaction
from django.utils.timezone import now

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

"""Django's Redis cache, keeping one redis-py client per connection pool, and answering without Redis.

Django's `RedisCacheClient.get_client()` builds a new `redis.Redis` for every
cache call: about 60 µs of Python each time (it copies the table of response
callbacks), and a page makes up to ten cache calls. A `redis.Redis` is safe to
share between threads (each command borrows a connection from the pool), so
one per pool is enough.

Degraded, not down: Redis unreachable, every call is a miss (reads return
nothing, writes are dropped) and the pages compute their counts again and read
sessions from the database (accounts.session_store is cached_db). After a
failure the cache is not asked again for DOWN_SECONDS, so that a page does not
wait for a connection timeout at each call. A write that could not be made may
leave an outdated value in Redis when it comes back (a logged-out session, an
old data version): those keys are remembered and deleted first thing once
Redis answers again.
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache.backends import redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Seconds the cache is left alone after Redis failed to answer.
DOWN_SECONDS = 5.0

_state = {"down_until": 0.0, "down_since": None}
_state_lock = threading.Lock()


def cache_is_down() -> bool:
    """Did Redis, as this process's cache, fail to answer within the last DOWN_SECONDS?"""
    return time.monotonic() < _state["down_until"]


class _Missing(Exception):
    pass


class RedisCacheClient(redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}
        self._forget: set = set()  # keys whose write failed: deleted when Redis is back

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client

    def _safely(self, call, default, written=()):
        if cache_is_down():
            self._forget.update(written)
            return default
        try:
            if self._forget:
                self._delete_forgotten()
            result = call()
        except RedisError as exc:
            with _state_lock:
                if _state["down_since"] is None:
                    _state["down_since"] = time.time()
                    logger.error("cache: Redis unavailable (%s), pages work without it", type(exc).__name__)
                _state["down_until"] = time.monotonic() + DOWN_SECONDS
            self._forget.update(written)
            return default
        if _state["down_since"] is not None:
            with _state_lock:
                _state["down_since"] = None
            logger.warning("cache: Redis answers again")
        return result

    def _delete_forgotten(self) -> None:
        keys = list(self._forget)
        self.get_client(write=True).delete(*keys)
        self._forget.difference_update(keys)

    def add(self, key, value, timeout):
        return self._safely(lambda: super(RedisCacheClient, self).add(key, value, timeout), False, [key])

    def get(self, key, default):
        return self._safely(lambda: super(RedisCacheClient, self).get(key, default), default)

    def set(self, key, value, timeout):
        return self._safely(lambda: super(RedisCacheClient, self).set(key, value, timeout), None, [key])

    def touch(self, key, timeout):
        return self._safely(lambda: super(RedisCacheClient, self).touch(key, timeout), False)

    def delete(self, key):
        return self._safely(lambda: super(RedisCacheClient, self).delete(key), False, [key])

    def get_many(self, keys):
        return self._safely(lambda: super(RedisCacheClient, self).get_many(keys), {})

    def has_key(self, key):
        return self._safely(lambda: super(RedisCacheClient, self).has_key(key), False)

    def incr(self, key, delta):
        result = self._safely(lambda: super(RedisCacheClient, self).incr(key, delta), _Missing, [key])
        if result is _Missing:
            raise ValueError(f"Key '{key}' not found (cache unavailable).")
        return result

    def set_many(self, data, timeout):
        return self._safely(lambda: super(RedisCacheClient, self).set_many(data, timeout), None, list(data))

    def delete_many(self, keys):
        return self._safely(lambda: super(RedisCacheClient, self).delete_many(keys), None, list(keys))

    def clear(self):
        return self._safely(lambda: super(RedisCacheClient, self).clear(), False)


class RedisCache(redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient

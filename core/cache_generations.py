"""Cache generations: the version of a studio's data that every web process's cached reads are keyed by.

A write bumps the studio's generation in Redis and publishes it, so every web process drops what it cached for the
studio. The web app bumps after its own writes (``webapp.cache``); the workers bump after each committed import
batch (``bump_from_worker``). Both use the one script and key layout defined here.
"""

from __future__ import annotations

import threading
import time

import redis as sync_redis
from redis.exceptions import RedisError

from core.metrics import CACHE_ERRORS
from core.settings import settings

GEN_KEY = "wedsync:gen:{}"
CHANNEL = "wedsync:cache:invalidate"

# INCR, but never below the clock in µs: generations keep going up even after Redis restarts empty. A supplier-
# wide bump publishes in the same round trip so every web process drops its entries for the supplier; a scoped
# one (ARGV[2] empty) does not need to, its generation is read with the request.
BUMP_SCRIPT = """
local v = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[1])
if v < floor then redis.call('SET', KEYS[1], ARGV[1]); v = floor end
if ARGV[3] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
if ARGV[2] ~= '' then redis.call('PUBLISH', KEYS[2], ARGV[2]) end
return v
"""


def now_us() -> str:
    return str(time.time_ns() // 1_000)


class _WorkerBumper:
    """Workers are threads in sync code: one small Redis client, a short timeout, failures remembered and retried
    on the next bump, and a back-off so a dead Redis does not slow an import."""

    def __init__(self, url: str) -> None:
        self._client = sync_redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._client.register_script(BUMP_SCRIPT)
        self._lock = threading.Lock()
        self._pending: set[int] = set()
        self._skip_until = 0.0

    def bump(self, supplier_id: int) -> None:
        with self._lock:
            self._pending.add(supplier_id)
            if time.monotonic() < self._skip_until:
                CACHE_ERRORS.labels("worker_bump", "circuit_open").inc()
                return
            for sid in sorted(self._pending):
                try:
                    self._script(keys=[GEN_KEY.format(sid), CHANNEL], args=[now_us(), str(sid), "0"])
                except (RedisError, OSError):
                    CACHE_ERRORS.labels("worker_bump", "error").inc()
                    self._skip_until = time.monotonic() + 2.0
                    return
                self._pending.discard(sid)


_bumper: _WorkerBumper | None = None
_bumper_lock = threading.Lock()


def bump_from_worker(supplier_id: int) -> None:
    """After a worker commits clients for a supplier (each import batch, and the job's end): web processes'
    cached reads for that supplier are invalidated. Never raises: an import must not fail over a cache."""
    global _bumper
    url = settings().redis_url
    if not url:
        return
    with _bumper_lock:
        if _bumper is None:
            _bumper = _WorkerBumper(url)
    _bumper.bump(supplier_id)

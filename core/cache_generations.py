"""Cache generations: the version of a studio's data that every web process's cached reads are keyed by.

A write bumps the studio's generation in Redis and announces it, so every web process drops what it cached for the
studio and knows the new generation without asking Redis for it on its next request (``webapp.cache.mirror``). The
web app bumps after its own writes (``webapp.cache``); the workers bump after each committed import batch
(``bump_from_worker``). All of them use the one Lua prefix, key layout and announcement format defined here.
"""

from __future__ import annotations

import threading
import time
from typing import NamedTuple

import redis as sync_redis
from redis.exceptions import RedisError

from core.metrics import CACHE_ERRORS
from core.settings import settings

GEN_KEY = "wedsync:gen:{}"
SCOPE_GEN_KEY = "wedsync:gen:{}:{}"  # a narrower generation inside a supplier, e.g. one client's notes ("c:42")
SEQ_KEY = "wedsync:genseq:{}"  # counts every bump of any of a supplier's generations: orders announcements
CHANNEL = "wedsync:cache:invalidate"

# Every bump, of the supplier-wide generation or of a scoped one, goes through this prefix (``BUMP_SCRIPT`` here, and
# ``webapp.cache.rows.BUMP_LISTS``, which logs the changed rows after it) and is announced in the same atomic call.
# KEYS: the generation, the supplier's sequence (SEQ_KEY), the channel. ARGV: now in µs, the announced name ("<sid>"
# or "<sid>:<scope>"), the generation's expiry in s ("0": none).
# The generation is INCR, but never below the clock in µs, so it keeps going up even after Redis restarts empty; the
# sequence likewise. Numbers are formatted with %.0f: Lua 5.1 would print a 16-digit number as 1.7e+15.
BUMP_PREFIX = """
local floor = tonumber(ARGV[1])
local prev = redis.call('GET', KEYS[1])
local v = redis.call('INCR', KEYS[1])
if v < floor then redis.call('SET', KEYS[1], ARGV[1]); v = floor end
if ARGV[3] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
local s = redis.call('INCR', KEYS[2])
if s < floor then redis.call('SET', KEYS[2], ARGV[1]); s = floor end
redis.call('PUBLISH', KEYS[3], string.format('%s %.0f %.0f', ARGV[2], v, s))
"""
BUMP_SCRIPT = BUMP_PREFIX + "return {v, s}\n"


class Announcement(NamedTuple):
    """One bump as every web process hears it on ``CHANNEL``."""

    supplier_id: int
    scope: str | None  # None: the supplier-wide generation
    value: int | None  # the generation it moved to; None in the bare "<sid>" of an older release
    seq: int | None  # the supplier's bump sequence after it


def announced(data: bytes) -> Announcement | None:
    """Parse a message on ``CHANNEL`` (None when it is not one): ``"<sid>[:<scope>] <value> <seq>"``, or the bare
    ``"<sid>"`` that workers of the previous release still send while a deploy rolls (a supplier-wide bump)."""
    head, _, rest = data.decode("ascii", "replace").partition(" ")
    sid, _, scope = head.partition(":")
    if not sid.isdigit():
        return None
    if not rest:
        return Announcement(int(sid), scope or None, None, None)
    value, _, seq = rest.partition(" ")
    if not (value.isdigit() and seq.isdigit()):
        return None
    return Announcement(int(sid), scope or None, int(value), int(seq))


def bump_keys(supplier_id: int, scope: str | None = None) -> list[str]:
    """The KEYS of a bump of ``supplier_id``'s generation (or of its ``scope``)."""
    gen = GEN_KEY.format(supplier_id) if scope is None else SCOPE_GEN_KEY.format(supplier_id, scope)
    return [gen, SEQ_KEY.format(supplier_id), CHANNEL]


def announced_name(supplier_id: int, scope: str | None = None) -> str:
    return str(supplier_id) if scope is None else f"{supplier_id}:{scope}"


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
                    self._script(keys=bump_keys(sid), args=[now_us(), announced_name(sid), "0"])
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

"""Sessions that survive a Redis outage: a Litestar ``Store`` in front of the Redis one.

Sessions live in Redis. Without this wrapper a Redis outage turns every signed-in page into a 500 (the session
middleware reads the session before the handler runs and writes it back after). With it, each web process keeps
a bounded copy of the sessions it has served recently (cachetools ``TTLCache``) and answers from that copy while
Redis is unreachable; writes are kept locally and Redis is retried through the shared circuit breaker.

A read of a session this process has no copy of, and a write that changes a session, go to Redis even while the
circuit is open (2 s timeout): a saturated machine that opened the circuit must not sign phones out.

Every response rewrites its session (Litestar's server-side backend), which only renews its expiry when nothing
changed. Such an unchanged write is sent to Redis at most once per ``RENEW_EVERY_S`` per process: a month-long
session's expiry may lag by minutes, and a busy phone's requests save one Redis round trip each. Reads are never
skipped: a sign-out anywhere is seen by the next request here.

Stated limits while Redis is down: a sign-out only ends the session in the process that handled it (others
still honour their copy until Redis is back or the copy expires after ``LOCAL_TTL_S``), and a phone whose session
this process has never seen is sent to the sign-in page rather than getting an error.
"""

from __future__ import annotations

import contextlib
import datetime as dt

from cachetools import TTLCache
from litestar.stores.base import Store

from webapp.cache.guard import RedisDown, RedisGuard

LOCAL_SESSIONS = 20_000  # a session is ~40 bytes of msgpack: this is a few MB
LOCAL_TTL_S = 3600.0
ESSENTIAL_TIMEOUT_S = 2.0  # a session read or sign-in with no fallback waits longer than a cache read
RENEW_EVERY_S = 300.0  # an unchanged session's expiry is pushed back in Redis at most this often per process


class FallbackStore(Store):
    def __init__(self, inner: Store, guard: RedisGuard) -> None:
        self.inner, self.guard = inner, guard
        self._local: TTLCache[str, bytes] = TTLCache(LOCAL_SESSIONS, LOCAL_TTL_S)
        # Sessions whose latest write never reached Redis (timed out or Redis away), with their expiry. Redis
        # answering "no such session" for one of these means "not written yet", not "signed out elsewhere".
        self._unsynced: TTLCache[str, int | dt.timedelta | None] = TTLCache(LOCAL_SESSIONS, LOCAL_TTL_S)
        # Sessions this process wrote to Redis within the last RENEW_EVERY_S (as they are in ``_local``).
        self._renewed: TTLCache[str, bool] = TTLCache(LOCAL_SESSIONS, RENEW_EVERY_S)

    async def set(self, key: str, value: str | bytes, expires_in: int | dt.timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        # A changed session (sign-in) must reach Redis even while the circuit is open, or the phone's next request
        # on another process finds no session; an unchanged one (every response rewrites it) can wait.
        changed = self._local.get(key) != data
        if not changed and key in self._renewed and key not in self._unsynced:
            return  # the same bytes reached Redis moments ago; only the expiry would move
        self._local[key] = data
        try:
            await self.guard.run(
                "session_set",
                lambda: self.inner.set(key, value, expires_in),
                force=changed,
                limit_s=ESSENTIAL_TIMEOUT_S if changed else None,
            )
        except RedisDown:
            self._unsynced[key] = expires_in
            self._renewed.pop(key, None)
        else:
            self._unsynced.pop(key, None)
            self._renewed[key] = True

    async def get(self, key: str, renew_for: int | dt.timedelta | None = None) -> bytes | None:
        local = self._local.get(key)
        try:
            # Without a copy here, Redis is the only way to know who this is: ask it even while the circuit is open
            # (on a saturated machine a few slow answers open it; that must not sign people out).
            value = await self.guard.run(
                "session_get",
                lambda: self.inner.get(key, renew_for),
                force=local is None,
                limit_s=ESSENTIAL_TIMEOUT_S if local is None else None,
            )
        except RedisDown:
            return local
        if value is None and local is not None and key in self._unsynced:
            # Our write of this session never landed (a sign-in on a saturated machine): keep the phone signed in
            # and try the write again, rather than reading the gap as a sign-out.
            await self.set(key, local, self._unsynced[key])
            return local
        if value is None:
            self._local.pop(key, None)  # ended elsewhere (sign-out in another process) or expired
            self._renewed.pop(key, None)
        elif self._local.get(key) != value:
            self._local[key] = value
            self._renewed.pop(key, None)  # changed elsewhere: what we wrote is not what Redis holds
        return value

    async def delete(self, key: str) -> None:
        self._local.pop(key, None)
        self._unsynced.pop(key, None)
        self._renewed.pop(key, None)
        with contextlib.suppress(RedisDown):  # a sign-out must reach every process: tried even with the circuit open
            await self.guard.run(
                "session_delete", lambda: self.inner.delete(key), force=True, limit_s=ESSENTIAL_TIMEOUT_S
            )

    async def delete_all(self) -> None:
        self._local.clear()
        self._renewed.clear()
        await self.inner.delete_all()

    async def exists(self, key: str) -> bool:
        try:
            return await self.guard.run("session_exists", lambda: self.inner.exists(key))
        except RedisDown:
            return key in self._local

    async def expires_in(self, key: str) -> int | None:
        try:
            return await self.guard.run("session_ttl", lambda: self.inner.expires_in(key))
        except RedisDown:
            return None

"""Sessions that cost no Redis round trip while unchanged, end everywhere at once, and survive a Redis outage: a
Litestar ``Store`` in front of the Redis one.

Sessions live in Redis (the truth). Each web process also keeps copies of the sessions it has served, for two uses:

* **Trusted copies** (``TRUST_S``): a session read from Redis (or written here) is answered from memory for up to
  ``TRUST_S`` while this process's subscription to ``ENDED_CHANNEL`` is up. Ending a session (sign-out, and anything
  that ever needs to end a session: ``delete``) deletes it and publishes its id in the same Redis round trip, and
  every process drops its copy and remembers the id as ended (``_ended``) when the message arrives. So a sign-out
  in one process ends the session in every other one as soon as Redis delivers the message (well under a second);
  the ``TRUST_S`` bound holds even should a message be lost on a subscription that stayed up. Copies are trusted
  only while the subscription is up and only if it was up since they were read: when it drops (Redis restarted, a
  network error) every trusted copy is forgotten and sessions are read from Redis again until it is back.
  A session's data never changes under one id (signing in moves it to a new id and ends the old one), so a copy
  can only be stale by having ended; a changed write is published too, should that ever change.
* **Fallback copies** (``LOCAL_TTL_S``): while Redis is unreachable, answers come from the copy of the sessions this
  process has served; writes are kept locally and Redis is retried through the shared circuit breaker. A read of a
  session this process has no copy of, and a write that changes a session, go to Redis even while the circuit is
  open (2 s timeout): a saturated machine that opened the circuit must not sign phones out.

**No resurrection.** A request still in flight when its session was ended (sign-out on another tab, an offline
phone's queued sign-out replayed) writes its session back as it answers. That write renews an existing session
only (``SET … XX`` in ``update``): it can never create the session again, and an id known to have ended is never
written or trusted again in this process. Only ``set`` creates a session (sign-in, under a new random id).

Every response would rewrite its session (Litestar's server-side backend); ``IssuedSessionBackend`` skips an
unchanged one, and the renewal of its expiry is sent to Redis at most once per ``RENEW_EVERY_S`` per process: a
month-long session's expiry may lag by minutes.

Stated limits while Redis is down: a sign-out only ends the session in the process that handled it (others
still honour their copy until Redis is back or the copy expires after ``LOCAL_TTL_S``), and a phone whose session
this process has never seen is sent to the sign-in page rather than getting an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

import structlog
from cachetools import TTLCache
from litestar.stores.base import Store
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis
from redis.exceptions import RedisError

from webapp.cache.guard import RedisDown, RedisGuard

log = structlog.get_logger("wedsync.sessions")

LOCAL_SESSIONS = 20_000  # a session is ~40 bytes of msgpack: this is a few MB
LOCAL_TTL_S = 3600.0
TRUST_S = 30.0  # the longest a copy is answered without Redis, should an "ended" message ever be lost
ESSENTIAL_TIMEOUT_S = 2.0  # a session read or sign-in with no fallback waits longer than a cache read
RENEW_EVERY_S = 300.0  # an unchanged session's expiry is pushed back in Redis at most this often per process
ENDED_CHANNEL = "wedsync:session:ended"  # message: a session id that has ended; every process drops its copies
CHANGED_CHANNEL = "wedsync:session:changed"  # message: a session id whose data changed; trusted copies are dropped

# KEYS: the session; ARGV: the value, expiry in s ("0": none). Renews a session only if it still exists.
_UPDATE_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[2] ~= '0' then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) else redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""


def _seconds(expires_in: int | dt.timedelta | None) -> int:
    if isinstance(expires_in, dt.timedelta):
        return max(1, int(expires_in.total_seconds()))
    return int(expires_in or 0)


class FallbackStore(Store):
    def __init__(self, inner: Store, guard: RedisGuard) -> None:
        self.inner, self.guard = inner, guard
        self._local: TTLCache[str, bytes] = TTLCache(LOCAL_SESSIONS, LOCAL_TTL_S)
        self._trusted: TTLCache[str, bytes] = TTLCache(LOCAL_SESSIONS, TRUST_S)
        # Ids ended (here, or elsewhere as the channel said): never trusted or written again. Kept longer than a
        # trusted copy lives, so a Redis read that was in flight as the message arrived cannot trust it back.
        self._ended: TTLCache[str, bool] = TTLCache(LOCAL_SESSIONS, 4 * TRUST_S)
        # Sessions created here (sign-in) whose write never reached Redis (timed out or Redis away), with their
        # expiry. Redis answering "no such session" for one of these means "not written yet", not "signed out
        # elsewhere". A renewal that did not land is not one: its session may have ended meanwhile.
        self._unsynced: TTLCache[str, int | dt.timedelta | None] = TTLCache(LOCAL_SESSIONS, LOCAL_TTL_S)
        # Sessions this process wrote to Redis within the last RENEW_EVERY_S (as they are in ``_local``).
        self._renewed: TTLCache[str, bool] = TTLCache(LOCAL_SESSIONS, RENEW_EVERY_S)
        self.listening = False  # subscribed to ENDED_CHANNEL: copies may be trusted
        self._epoch = 0  # moves whenever the subscription starts or stops
        self._task: asyncio.Task[None] | None = None
        self._up, self._down = asyncio.Event(), asyncio.Event()

    # -- the "ended" channel ---------------------------------------------------------------------------------
    async def start(self, redis: Redis) -> None:
        """Subscribe to ``ENDED_CHANNEL`` (in the app's lifespan); copies are trusted once the subscription is up."""
        self._task = asyncio.create_task(self._listen(redis), name="session-ended")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wait_listening(True), ESSENTIAL_TIMEOUT_S)  # Redis away: start untrusting

    async def wait_listening(self, on: bool) -> None:
        """Until the subscription is up (``on``) or down."""
        await (self._up if on else self._down).wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _trust(self, on: bool) -> None:
        self.listening = on
        self._epoch += 1
        self._trusted.clear()
        (self._up if on else self._down).set()
        (self._down if on else self._up).clear()

    async def _listen(self, redis: Redis) -> None:
        delay = 0.5
        while True:
            try:
                async with redis.pubsub() as pubsub:
                    await pubsub.subscribe(ENDED_CHANNEL, CHANGED_CHANNEL)
                    subscribed = 0
                    async for message in pubsub.listen():
                        kind, channel, data = message.get("type"), message.get("channel"), message.get("data")
                        if kind == "subscribe":
                            subscribed += 1
                            if subscribed == 2:  # both channels: from now on no message can be missed
                                self._trust(True)
                                delay = 0.5
                        elif kind == "message" and isinstance(data, bytes):
                            self._forget(data.decode(), ended=channel == ENDED_CHANNEL.encode())
            except asyncio.CancelledError:
                self._trust(False)
                raise
            except (RedisError, OSError) as exc:
                log.warning("session channel lost; reading sessions from Redis", error=type(exc).__name__, in_s=delay)
            self._trust(False)
            await asyncio.sleep(delay)  # a back-off between reconnects, not a synchronisation
            delay = min(delay * 2, 10)

    def _forget(self, key: str, *, ended: bool) -> None:
        self._trusted.pop(key, None)
        if ended:
            self._ended[key] = True
            self._local.pop(key, None)
            self._unsynced.pop(key, None)
            self._renewed.pop(key, None)

    def _keep_trusted(self, key: str, data: bytes, epoch: int) -> None:
        if self.listening and epoch == self._epoch and key not in self._ended:
            self._trusted[key] = data

    def renewed_recently(self, key: str) -> bool:
        """True when this process wrote the session to Redis within ``RENEW_EVERY_S`` and it is still trusted:
        an unchanged session need not be written (nor its cookie sent) again."""
        return key in self._renewed and key in self._trusted and key not in self._unsynced

    def trusted(self, key: str) -> bytes | None:
        """The session as this process may answer it with no I/O at all: trusted, and renewed here recently (so its
        response would write nothing either). None means: take the full path."""
        if not self.listening or key in self._ended or not self.renewed_recently(key):
            return None
        return self._trusted.get(key)

    # -- Store -----------------------------------------------------------------------------------------------
    async def set(self, key: str, value: str | bytes, expires_in: int | dt.timedelta | None = None) -> None:
        """Create (or overwrite) a session: a sign-in, under a new random id."""
        await self._write(key, value, expires_in, create=True)

    async def update(self, key: str, value: str | bytes, expires_in: int | dt.timedelta | None = None) -> None:
        """Write back a session that was read by this request: renews it only if it still exists."""
        await self._write(key, value, expires_in, create=key in self._unsynced)

    async def _write(
        self, key: str, value: str | bytes, expires_in: int | dt.timedelta | None, *, create: bool
    ) -> None:
        if key in self._ended:
            return  # ended (here or elsewhere) while the request that writes it was in flight
        data = value.encode() if isinstance(value, str) else value
        # A changed session (sign-in) must reach Redis even while the circuit is open, or the phone's next request
        # on another process finds no session; an unchanged one (every response rewrites it) can wait.
        changed = self._local.get(key) != data
        if not changed and key in self._renewed and key not in self._unsynced:
            return  # the same bytes reached Redis moments ago; only the expiry would move
        epoch = self._epoch
        self._local[key] = data
        try:
            landed = await self.guard.run(
                "session_set",
                lambda: self._send(key, data, expires_in, create=create, changed=changed),
                force=changed,
                limit_s=ESSENTIAL_TIMEOUT_S if changed else None,
            )
        except RedisDown:
            if create:  # a sign-in not in Redis yet; a renewal that did not land leaves Redis's copy as it was
                self._unsynced[key] = expires_in
            self._renewed.pop(key, None)
            return
        self._unsynced.pop(key, None)
        if not landed:  # it had ended in Redis (signed out elsewhere, or expired): never bring it back
            self._forget(key, ended=True)
            return
        self._renewed[key] = True
        self._keep_trusted(key, data, epoch)

    async def _send(
        self, key: str, data: bytes, expires_in: int | dt.timedelta | None, *, create: bool, changed: bool
    ) -> bool:
        inner = self.inner
        if not isinstance(inner, RedisStore):  # another store (tests): the same rule, without the atomicity
            if not create and not await inner.exists(key):
                return False
            await inner.set(key, data, expires_in)
            return True
        redis, name = inner._redis, inner._make_key(key)  # litestar 2.25 RedisStore: its client, its key
        async with redis.pipeline(transaction=True) as pipe:
            if create:
                pipe.set(name, data, ex=_seconds(expires_in) or None)
            else:
                pipe.eval(_UPDATE_SCRIPT, 1, name, data, str(_seconds(expires_in)))
            if changed and not create:  # other processes' trusted copies of it are out of date
                pipe.publish(CHANGED_CHANNEL, key)
            result = await pipe.execute()
        return create or bool(result[0])

    async def get(self, key: str, renew_for: int | dt.timedelta | None = None) -> bytes | None:
        if key in self._ended:
            return None
        if self.listening and renew_for is None:
            trusted = self._trusted.get(key)
            if trusted is not None:
                return trusted
        epoch = self._epoch
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
            await self._write(key, local, self._unsynced[key], create=True)
            return local
        if value is None:
            self._local.pop(key, None)  # ended elsewhere (sign-out in another process) or expired
            self._renewed.pop(key, None)
            self._trusted.pop(key, None)
            return None
        if key in self._ended:  # ended while this read was in flight
            return None
        if self._local.get(key) != value:
            self._local[key] = value
            self._renewed.pop(key, None)  # changed elsewhere: what we wrote is not what Redis holds
        self._keep_trusted(key, value, epoch)
        return value

    async def delete(self, key: str) -> None:
        """End a session everywhere: deleted in Redis and announced to every process in one round trip."""
        self._forget(key, ended=True)
        inner = self.inner

        async def end() -> None:
            if not isinstance(inner, RedisStore):
                await inner.delete(key)
                return
            async with inner._redis.pipeline(transaction=True) as pipe:
                pipe.delete(inner._make_key(key))
                pipe.publish(ENDED_CHANNEL, key)
                await pipe.execute()

        with contextlib.suppress(RedisDown):  # a sign-out must reach every process: tried even with the circuit open
            await self.guard.run("session_delete", end, force=True, limit_s=ESSENTIAL_TIMEOUT_S)

    async def delete_all(self) -> None:
        self._local.clear()
        self._renewed.clear()
        self._trusted.clear()
        await self.inner.delete_all()

    async def exists(self, key: str) -> bool:
        if key in self._ended:
            return False
        if self.listening and key in self._trusted:
            return True
        try:
            return await self.guard.run("session_exists", lambda: self.inner.exists(key))
        except RedisDown:
            return key in self._local

    async def expires_in(self, key: str) -> int | None:
        try:
            return await self.guard.run("session_ttl", lambda: self.inner.expires_in(key))
        except RedisDown:
            return None

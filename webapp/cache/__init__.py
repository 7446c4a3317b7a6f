"""Hot reads (dashboard counts, client list pages, client detail, upcoming weddings, integration labels) in three
tiers: a bounded in-process cache, then Redis, then PostgreSQL. Fast, and never a stale read for the supplier who
just wrote.

How freshness works
-------------------
* Every supplier has a generation in Redis (``wedsync:gen:<supplier_id>``). Every write bumps it *after* its
  PostgreSQL commit: the web app bumps on every unsafe request of a signed-in supplier
  (``bump_after_write_middleware``, app-wide, so a route added tomorrow is covered too), and workers bump after
  each committed import batch and at the end of a job (``bump_from_worker``). The bump also publishes the supplier id on
  ``wedsync:cache:invalidate`` so every web process drops that supplier's in-process entries at once.
* A route may narrow its bump with ``opt={"cache_scope": (...)}``: ``"client"`` (the client in its path: a note),
  ``"row"`` (that client's row in the lists, and the dashboard: a status change declares both), ``"lists"``
  (any list row, and the dashboard) and ``"nothing"`` (signing in: no bump). Scoped generations
  (``wedsync:gen:<supplier_id>:<scope>``) are read with the supplier's; anything undeclared bumps everything.
* List pages and searches (``get_listing``) are not keyed by the ``"lists"`` generation: its bumps log which rows
  they changed, and a cached list is read again only if it shows one of them, and then only those rows
  (``rows.py``). Which clients a list holds and their order change only with supplier-wide bumps.
* Each request knows the generation once: from ``mirror`` (what this process has heard announced: no I/O), or
  else one MGET of the supplier's, the read's scope if any, and the supplier's bump sequence. Keys in both tiers
  carry supplier id + generations, so a missed pub/sub message can only cost a miss, never a stale read, except
  through the mirror, which is trusted only while its subscription is up and for at most 10 s per value heard;
  a browser's own writes are always seen (its floor cookie, ``mirror.py``). Old entries age out (TTL / LRU).
* The web process that made a write bumps its own local counter synchronously before it responds, so its next
  read is fresh even when the Redis bump fails. A failed Redis bump is remembered and replayed (the supplier's
  reads skip the Redis tier until it succeeds), so other processes learn about it as soon as Redis answers.
* Redis down (error, timeout, open circuit): the generation is unknown, so in-process entries are served only
  while younger than ``DEGRADED_TTL_S`` (2 s), then PostgreSQL answers. Staleness across processes while Redis
  is down is therefore bounded by 2 s; within the writing process there is none. No ``ETag`` is offered then.
* Generations only go up: a bump is ``max(INCR, now in µs)`` and a missing key is created at "now in µs", so a
  Redis that restarts empty cannot bring an old generation (and the entries cached under it) back.
* Residual risk, stated: if PostgreSQL commits, the Redis bump fails AND the writing process dies before Redis
  is back, other processes may serve the pre-write value for up to 15 min (an entry lives 10 min in Redis, and a
  copy taken from Redis just before that lives 5 min in memory). The same holds for rows written behind the app's
  back: whoever does that calls ``bump_from_worker`` after the commit.

Isolation: every key starts with the supplier id, every loader runs in ``tenant(...)`` (RLS), and nothing with a
CRM secret is cached (integration rows are cached as ``IntegrationSummary``: labels, no key).

Single flight: one in-process asyncio task per key, so concurrent cold reads of a key in one process run its
PostgreSQL query once; across processes, the first to miss in Redis takes a short lock (``SET NX PX``) and the
others poll Redis for its value for up to 1 s before loading it themselves (a lock holder that died costs one
slow read, never a stuck page).

Library evaluation (why this is mostly glue):
* ``cachetools`` (TTLCache): bounded size + TTL, LRU eviction, ships its own types. Used for the memory tier and
  for the session fallback copies.
* ``cashews``: async decorators with memory and Redis backends, tags and locks. Rejected: its default serialiser
  is pickle (a Redis that is reachable by others becomes code execution in ours; we want msgspec msgpack into
  typed Structs), its tag invalidation is per key set rather than a per-supplier generation read once per
  request, it has no notion of "Redis down ⇒ serve memory only for 2 s", and per-tier hit/miss counters and the
  ETag-from-generation would still have to be written around it.
* ``aiocache``: same shape as cashews, less maintained (last release 2024).
So the tiers are cachetools + redis-py, and the hand-written parts are what no library offers: the generation
protocol, single flight (a dict of tasks), the ETag, and the breaker (``guard.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Hashable
from pathlib import Path
from typing import Any, Generic, TypeVar

import msgspec
import structlog
from cachetools import TTLCache
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.cache_generations import BUMP_SCRIPT as _BUMP
from core.cache_generations import CHANNEL, GEN_KEY, SCOPE_GEN_KEY, SEQ_KEY, announced, announced_name, bump_keys
from core.cache_generations import now_us as _now_us
from core.metrics import CACHE_ERRORS, CACHE_LOOKUPS
from core.settings import PROJECT_ROOT
from webapp.cache.guard import RedisDown, RedisGuard
from webapp.cache.mirror import GenerationMirror, floor_cookie
from webapp.cache.rows import ANY_ROW, BUMP_LISTS, LOG_ENTRIES, ROWS_LOG_KEY, changed_rows

log = structlog.get_logger("wedsync.cache")

T = TypeVar("T")

SCOPE_GEN_TTL_S = 86_400  # refreshed on every bump; an expired one restarts at "now", which is always higher
VALUE_KEY = "wedsync:cache:{sid}:{gen}:{name}:{schema}:{digest}"
LISTS = "lists"  # the scope of everything that lists clients: list pages, searches, dashboard counts and upcoming
NOTHING = "nothing"  # a write that changes no cached read (signing in): no bump
MEMORY_ENTRIES = 2_000  # a list page is ~50 rows: a few tens of MB at most per process
MEMORY_TTL_S = 300.0
REDIS_TTL_S = 600
DEGRADED_TTL_S = 2.0
LOCK_SUFFIX = ":loading"
LOCK_MS = 3_000  # longer than any hot read should take; a holder that dies frees the key after this
LOCK_WAIT_S = 1.0
# A studio's settings (time zone, date style, country), asked for by every signed-in request: kept in memory under
# the supplier's local counter, which every supplier-wide bump moves in every process (pub/sub), so no Redis round
# trip is spent on them. Should an invalidation be missed, they are read again after this long.
SETTINGS_TTL_S = 30.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_MEMORY_HIT = CACHE_LOOKUPS.labels("memory", "hit")  # the hot path's counter, looked up once


class Generation(msgspec.Struct, frozen=True):
    """What a request knows about a supplier's data version, read once per request."""

    supplier_id: int
    shared: int | None  # the Redis generation; None when Redis could not be asked (degraded)
    local: int  # this process's own count of writes and invalidations for the supplier
    scoped: int | None = None  # the generation of the narrower scope asked for ("c:42", "lists"), if any

    @property
    def degraded(self) -> bool:
        return self.shared is None


class Listing(msgspec.Struct, Generic[T], frozen=True):
    """A cached list (page, search, fragment) and the ``"lists"`` generation it was read at (see ``rows.py``)."""

    lists: int
    value: T


class _Codec:
    """msgpack encoder/decoder for one cached shape; ``schema`` changes when the Struct does, so values written
    by an older deploy are never decoded into a newer shape."""

    def __init__(self, type_: Any) -> None:
        self.decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(type_)
        schema = msgspec.json.encode(msgspec.json.schema(type_))
        self.schema = hashlib.blake2b(schema, digest_size=4).hexdigest()


class _ListingRead(msgspec.Struct, Generic[T], frozen=True):
    """What ``get_listing`` caches and how to read it: whole (``load``), or a few of its ``rows_of`` (``refresh``)."""

    name: str
    params: tuple[Hashable, ...]
    codec: _Codec  # of Listing[the value's type]
    load: Callable[[], Awaitable[T]]
    rows_of: Callable[[T], Collection[int]]
    refresh: Callable[[T, frozenset[int]], Awaitable[T | None]]


def _templates_digest() -> str:
    """Part of every ETag, so a deploy with changed templates never answers 304 for an old rendering."""
    h = hashlib.blake2b(digest_size=8)
    for path in sorted(Path(PROJECT_ROOT / "templates").rglob("*.html")):
        h.update(path.read_bytes())
    return h.hexdigest()


class HotCache:
    def __init__(
        self,
        redis: Redis,
        *,
        guard: RedisGuard | None = None,
        memory_entries: int = MEMORY_ENTRIES,
        memory_ttl: float = MEMORY_TTL_S,
        redis_ttl: int = REDIS_TTL_S,
        degraded_ttl: float = DEGRADED_TTL_S,
    ) -> None:
        self.redis = redis
        self.guard = guard or RedisGuard()
        self.redis_ttl, self.degraded_ttl = redis_ttl, degraded_ttl
        self._memory: TTLCache[Hashable, tuple[float, Any]] = TTLCache(memory_entries, memory_ttl)
        # (supplier, local counter) → settings; (supplier, None) → the last ones read, for when PostgreSQL is away.
        self.settings_memo: TTLCache[tuple[int, int | None], Any] = TTLCache(10_000, SETTINGS_TTL_S)
        self._local: defaultdict[int, int] = defaultdict(int)
        # Bumps Redis did not take, to replay: supplier id → scopes (None = the whole supplier).
        self._pending: defaultdict[int, set[str | None]] = defaultdict(set)
        self._flights: dict[Hashable, asyncio.Task[Any]] = {}
        self._codecs: dict[str, _Codec] = {}
        self._bump_script = redis.register_script(_BUMP)
        self._bump_lists_script = redis.register_script(BUMP_LISTS)
        self._tasks: list[asyncio.Task[None]] = []
        self.mirror = GenerationMirror()  # generations known while the channel is heard (started by ``start``)
        self.build = _templates_digest()  # part of ETags and of cached renderings' keys

    # -- lifecycle -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="cache-invalidations"),
            asyncio.create_task(self._replay_pending(), name="cache-pending-bumps"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    async for message in pubsub.listen():
                        kind = message.get("type")
                        if kind == "subscribe":  # from now on no announcement can be missed
                            self.mirror.subscribed(True)
                            delay = 0.5
                        elif kind == "message" and isinstance(message.get("data"), bytes):
                            self._heard(message["data"])
            except asyncio.CancelledError:
                self.mirror.subscribed(False)
                raise
            except (RedisError, OSError) as exc:
                log.warning("cache invalidation subscription lost; retrying", error=type(exc).__name__, in_s=delay)
            self.mirror.subscribed(False)
            await asyncio.sleep(delay)  # a back-off between reconnects, not a synchronisation
            delay = min(delay * 2, 10)

    async def _replay_pending(self) -> None:
        while True:
            await asyncio.sleep(1.0)  # a retry period for failed bumps, not a synchronisation
            for supplier_id in list(self._pending):
                await self._replay(supplier_id)

    def _heard(self, data: bytes) -> None:
        news = announced(data)
        if news is None:
            return
        if news.scope is None:  # supplier-wide: this process's entries for the supplier go at once
            self.invalidate_local(news.supplier_id)
        if news.value is None:
            self.mirror.forget(news.supplier_id, news.scope)
        else:
            self.mirror.learn(self.mirror.epoch, news.supplier_id, news.scope, news.value, news.seq)

    # -- generations -----------------------------------------------------------------------------------------
    def invalidate_local(self, supplier_id: int) -> None:
        """Drop this process's entries for a supplier: they are keyed by this counter, so they become unreachable
        at once and age out of the LRU."""
        self._local[supplier_id] += 1

    def local_version(self, supplier_id: int) -> int:
        """This process's count of the supplier's supplier-wide writes and invalidations (no I/O)."""
        return self._local[supplier_id]

    async def generation(self, supplier_id: int, scope: str | None = None) -> Generation:
        """The supplier's generation (and ``scope``'s, e.g. ``"c:42"`` for one client): from the mirror of what
        this process has heard (no I/O), else in one round trip to Redis."""
        local = self._local[supplier_id]
        if supplier_id in self._pending and not await self._replay(supplier_id):
            # Our own write is not in Redis's generation yet: the Redis tier could hand us the pre-write value.
            return Generation(supplier_id, None, local)
        known = self.mirror.known(supplier_id, scope)
        if known is not None:
            return Generation(supplier_id, known[0], local, known[1])
        epoch = self.mirror.epoch
        keys = [GEN_KEY.format(supplier_id)] + ([SCOPE_GEN_KEY.format(supplier_id, scope)] if scope else [])
        raw: list[Any]
        try:
            raw = await self.guard.run("generation", lambda: self.redis.mget([*keys, SEQ_KEY.format(supplier_id)]))
            if None in raw[:-1]:  # first read ever, or Redis restarted empty: start at "now" (µs) so we never go back
                raw = await self.guard.run("generation", lambda: self._init_generations(keys, supplier_id))
        except RedisDown:
            return Generation(supplier_id, None, self._local[supplier_id])
        shared, seq = int(raw[0] or 0), int(raw[-1] or 0)
        scoped = int(raw[1] or 0) if scope else None
        self.mirror.learn(epoch, supplier_id, None, shared, seq)
        if scope and scoped is not None:
            self.mirror.learn(epoch, supplier_id, scope, scoped, seq)
        return Generation(supplier_id, shared, self._local[supplier_id], scoped)

    async def _init_generations(self, keys: list[str], supplier_id: int) -> list[Any]:
        """Creating a generation announces nothing: no write came with it, and values only go up."""
        now = _now_us()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(keys[0], now, nx=True)
            for key in keys[1:]:
                pipe.set(key, now, nx=True, ex=SCOPE_GEN_TTL_S)
            pipe.mget([*keys, SEQ_KEY.format(supplier_id)])
            results = await pipe.execute()
        return list(results[-1])

    async def bump(self, supplier_id: int, *scopes: str, rows: Collection[int] = ()) -> int | None:
        """Call after a committed write; ``scopes`` narrow it (``"c:42"``: client 42's page; ``"lists"``: the list
        and dashboard). None means everything of the supplier's. With ``"lists"``, ``rows`` are the clients whose
        list rows changed (not which clients a list holds, nor their order); none means any row. A supplier-wide
        bump moves the local counter first, synchronously; a scoped one moves it only if Redis did not take the
        bump. Either way the writer's next read in this process is fresh. Returns the supplier's bump sequence
        after it (for the writer's floor cookie: ``mirror``), None when Redis did not take it."""
        targets: tuple[str | None, ...] = scopes or (None,)
        if not scopes:
            self.invalidate_local(supplier_id)
        try:
            return await self._shared_bump(supplier_id, targets, rows)
        except RedisDown:
            self._pending[supplier_id].update(targets)
            if scopes:
                self.invalidate_local(supplier_id)
            return None

    async def _replay(self, supplier_id: int) -> bool:
        """Send the bumps Redis missed; True when none is left for the supplier."""
        scopes = self._pending.get(supplier_id)
        if scopes:
            try:
                await self._shared_bump(supplier_id, tuple(scopes))
            except RedisDown:
                return False
        self._pending.pop(supplier_id, None)
        return True

    async def _shared_bump(self, supplier_id: int, scopes: tuple[str | None, ...], rows: Collection[int] = ()) -> int:
        """A replayed bump has lost its ``rows``: it logs "any row", which costs whole reads, never a stale one.
        Each bump is announced with its new value (``core.cache_generations``); this process learns its own at once.
        Returns the supplier's bump sequence after the last one."""

        async def send() -> list[Any]:
            async with self.redis.pipeline(transaction=False) as pipe:
                for scope in scopes:
                    keys, args = bump_keys(supplier_id, scope), [_now_us(), announced_name(supplier_id, scope)]
                    if scope == LISTS:  # always through the change log: every move of this generation is in it
                        ids = [str(r) for r in sorted(set(rows))] or [ANY_ROW]
                        args += [str(SCOPE_GEN_TTL_S), str(LOG_ENTRIES), *ids]
                        keys.append(ROWS_LOG_KEY.format(supplier_id))
                        await self._bump_lists_script(keys=keys, args=args, client=pipe)
                    else:
                        args.append("0" if scope is None else str(SCOPE_GEN_TTL_S))
                        await self._bump_script(keys=keys, args=args, client=pipe)
                return list(await pipe.execute())

        epoch = self.mirror.epoch
        results = await self.guard.run("bump", send)
        for scope, (value, _) in zip(scopes, results, strict=True):
            self.mirror.learn(epoch, supplier_id, scope, int(value))
        return max(int(seq) for _, seq in results)

    # -- reads -----------------------------------------------------------------------------------------------
    def _codec(self, name: str, type_: Any) -> _Codec:
        codec = self._codecs.get(name)
        if codec is None:
            codec = self._codecs[name] = _Codec(type_)
        return codec

    @staticmethod
    def _value_key(sid: int, version: object, name: str, codec: _Codec, params: tuple[Hashable, ...]) -> str:
        digest = hashlib.blake2b(repr(params).encode(), digest_size=12).hexdigest()
        return VALUE_KEY.format(sid=sid, gen=version, name=name, schema=codec.schema, digest=digest)

    async def get(
        self,
        gen: Generation,
        name: str,
        params: tuple[Hashable, ...],
        type_: Any,
        load: Callable[[], Awaitable[T]],
    ) -> T:
        """The value of query ``name`` with ``params`` for ``gen``'s supplier: memory, then Redis, then ``load``
        (which must run in ``tenant(pool, gen.supplier_id)``). ``type_`` is what ``load`` returns (msgspec)."""
        key = (gen.supplier_id, gen.shared, gen.local, gen.scoped, name, params)
        entry = self._memory.get(key)
        if entry is not None and (not gen.degraded or time.monotonic() - entry[0] <= self.degraded_ttl):
            CACHE_LOOKUPS.labels("memory", "hit").inc()
            return entry[1]  # type: ignore[no-any-return]
        CACHE_LOOKUPS.labels("memory", "miss").inc()
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._fill(key, gen, name, params, type_, load))
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        # shield: a caller that goes away (client disconnected) does not cancel the load the others wait on
        return await asyncio.shield(flight)

    def peek_listing(self, gen: Generation, name: str, params: tuple[Hashable, ...]) -> Any | None:
        """What ``get_listing`` would answer from memory without any I/O (read at or after ``gen``'s ``"lists"``
        generation), or None: the caller then takes the full path. Never degraded: then the full path decides."""
        if gen.shared is None or gen.scoped is None:
            return None
        entry = self._memory.get((gen.supplier_id, gen.shared, gen.local, name, params))
        if entry is None or entry[1].lists < gen.scoped:
            return None
        _MEMORY_HIT.inc()
        return entry[1].value

    async def get_listing(
        self,
        gen: Generation,
        name: str,
        params: tuple[Hashable, ...],
        type_: Any,
        load: Callable[[], Awaitable[T]],
        rows_of: Callable[[T], Collection[int]],
        refresh: Callable[[T, frozenset[int]], Awaitable[T | None]],
    ) -> T:
        """Like ``get``, for a list of client rows (``gen`` read with the ``"lists"`` scope). The key holds the
        supplier's generation but not the ``"lists"`` one: when that has moved, a cached value stays good unless the
        change log (``rows.py``) names one of its ``rows_of``; then ``refresh`` reads just those rows again (and
        returns None if they no longer fit, e.g. one is gone: the list is then loaded whole)."""
        key = (gen.supplier_id, gen.shared, gen.local, name, params)
        entry = self._memory.get(key)
        stale: Listing[T] | None = None
        if entry is not None:
            listing: Listing[T] = entry[1]
            if gen.degraded:
                if time.monotonic() - entry[0] <= self.degraded_ttl:
                    CACHE_LOOKUPS.labels("memory", "hit").inc()
                    return listing.value
            elif gen.scoped is not None and listing.lists >= gen.scoped:  # read at or after this request's generation
                CACHE_LOOKUPS.labels("memory", "hit").inc()
                return listing.value
            else:
                stale = listing
        flight_key = (key, gen.scoped)
        flight = self._flights.get(flight_key)
        if flight is None:
            read = _ListingRead(name, params, self._codec(name, Listing[type_]), load, rows_of, refresh)
            fill = self._fill_listing(key, gen, read, stale)
            flight = asyncio.ensure_future(fill)
            self._flights[flight_key] = flight
            flight.add_done_callback(lambda done: self._landed(flight_key, done))
        value, from_memory = await asyncio.shield(flight)
        # A cached value whose rows did not change was answered from memory after one look at the log.
        CACHE_LOOKUPS.labels("memory", "hit" if from_memory else "miss").inc()
        return value  # type: ignore[no-any-return]

    async def _fill_listing(
        self, key: Hashable, gen: Generation, read: _ListingRead[T], stale: Listing[T] | None
    ) -> tuple[T, bool]:
        """(value, answered from memory). Counts the Redis tier once per fill: a hit when PostgreSQL was not asked,
        a miss when it was (for the whole list or for a few of its rows)."""
        lists = gen.scoped
        if gen.shared is None or lists is None:
            loaded = await read.load()
            self._memory[key] = (time.monotonic(), Listing(0, loaded))
            return loaded, False
        sid = gen.supplier_id
        changed = await changed_rows(self.redis, self.guard, sid, stale.lists) if stale is not None else None
        if stale is not None and changed is not None and changed.isdisjoint(read.rows_of(stale.value)):
            self._memory[key] = (time.monotonic(), Listing(lists, stale.value))
            return stale.value, True
        codec = read.codec
        rkey = self._value_key(sid, gen.shared, read.name, codec, read.params)
        found = await self._from_redis(rkey, codec, count=False)
        remote: Listing[T] | None = found[0] if found else None
        if remote is not None and remote.lists >= lists:  # another process has read it since the last change
            CACHE_LOOKUPS.labels("redis", "hit").inc()
            self._memory[key] = (time.monotonic(), remote)
            return remote.value, False
        # Otherwise start from the newer copy: what changed since it was read decides what is read again.
        base = stale
        if remote is not None and (stale is None or remote.lists > stale.lists):
            base, changed = remote, await changed_rows(self.redis, self.guard, sid, remote.lists)
        value: T | None = None
        if base is not None and changed is not None:
            dirty = changed.intersection(read.rows_of(base.value))
            CACHE_LOOKUPS.labels("redis", "miss" if dirty else "hit").inc()
            value = await read.refresh(base.value, frozenset(dirty)) if dirty else base.value
        else:
            CACHE_LOOKUPS.labels("redis", "miss").inc()
        if value is None:
            value = await self._load_listing(rkey, codec, lists, read.load)
        listing = Listing(lists, value)
        self._memory[key] = (time.monotonic(), listing)
        await self._store(rkey, listing)
        return listing.value, False

    async def _load_listing(self, rkey: str, codec: _Codec, lists: int, load: Callable[[], Awaitable[T]]) -> T:
        """A whole read, once across processes (the lock as in ``_fill``)."""
        if not await self._lock(rkey):
            other = await self._wait_for_other_process(rkey, codec, lambda got: bool(got.lists >= lists))
            if other is not None:
                return other[0].value  # type: ignore[no-any-return]
        try:
            return await load()
        except BaseException:
            await self._unlock(rkey)
            raise

    def _landed(self, key: Hashable, done: asyncio.Task[Any]) -> None:
        if self._flights.get(key) is done:
            del self._flights[key]
        if not done.cancelled():
            done.exception()  # retrieved here so an error nobody awaited is not logged as "never retrieved"

    async def _fill(
        self,
        key: Hashable,
        gen: Generation,
        name: str,
        params: tuple[Hashable, ...],
        type_: Any,
        load: Callable[[], Awaitable[T]],
    ) -> T:
        codec = self._codec(name, type_)
        rkey = None
        if gen.shared is not None:
            version = gen.shared if gen.scoped is None else f"{gen.shared}.{gen.scoped}"
            rkey = self._value_key(gen.supplier_id, version, name, codec, params)
            value = await self._from_redis(rkey, codec)
            if value is None and not await self._lock(rkey):
                value = await self._wait_for_other_process(rkey, codec)
            if value is not None:
                self._memory[key] = (time.monotonic(), value[0])
                return value[0]  # type: ignore[no-any-return]
        try:
            loaded = await load()
        except BaseException:
            if rkey is not None:
                await self._unlock(rkey)
            raise
        self._memory[key] = (time.monotonic(), loaded)
        if rkey is not None:
            await self._store(rkey, loaded)
        return loaded

    async def _store(self, rkey: str, value: Any) -> None:
        """Into Redis, and the key's load lock released in the same round trip; Redis away: memory only."""
        payload = msgspec.msgpack.encode(value)

        async def store() -> None:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(rkey, payload, ex=self.redis_ttl)
                pipe.delete(rkey + LOCK_SUFFIX)
                await pipe.execute()

        with contextlib.suppress(RedisDown):
            await self.guard.run("set", store)

    async def _unlock(self, rkey: str) -> None:
        """A load failed: free the key at once for the processes waiting on us."""
        with contextlib.suppress(RedisDown):
            await self.guard.run("unlock", lambda: self.redis.delete(rkey + LOCK_SUFFIX))

    async def _lock(self, rkey: str) -> bool:
        """Cross-process single flight: the first process to miss a key in Redis loads it; the others wait for its
        value (``_wait_for_other_process``). True when this process should load (also when Redis is away)."""
        try:
            got = await self.guard.run("lock", lambda: self.redis.set(rkey + LOCK_SUFFIX, b"1", nx=True, px=LOCK_MS))
        except RedisDown:
            return True
        return bool(got)

    async def _wait_for_other_process(
        self, rkey: str, codec: _Codec, fresh: Callable[[Any], bool] = lambda _: True
    ) -> tuple[Any] | None:
        """Poll for the value another process is loading, for at most ``LOCK_WAIT_S`` (then load it ourselves: a
        process that died holding the lock costs one slow read, not a stuck page). ``fresh``: whether a value
        found is the one awaited (a listing's key does not hold its generation)."""
        deadline = time.monotonic() + LOCK_WAIT_S
        delay = 0.002
        while time.monotonic() < deadline:
            await asyncio.sleep(delay)  # waiting on another process's query; Redis has no cheaper "tell me when"
            delay = min(delay * 2, 0.025)
            value = await self._from_redis(rkey, codec, count=False)
            if value is not None and fresh(value[0]):
                return value
        return None

    async def _from_redis(self, rkey: str, codec: _Codec, *, count: bool = True) -> tuple[Any] | None:
        raw: Any
        try:
            raw = await self.guard.run("get", lambda: self.redis.get(rkey))
        except RedisDown:
            return None
        if raw is None:
            if count:
                CACHE_LOOKUPS.labels("redis", "miss").inc()
            return None
        try:
            value = codec.decoder.decode(raw)
        except msgspec.DecodeError:
            if count:
                CACHE_LOOKUPS.labels("redis", "miss").inc()
            CACHE_ERRORS.labels("get", "undecodable").inc()
            return None
        if count:
            CACHE_LOOKUPS.labels("redis", "hit").inc()
        return (value,)

    # -- HTTP ------------------------------------------------------------------------------------------------
    def etag(self, gen: Generation, digest: str, *parts: str) -> str | None:
        """A weak ETag for a cached rendering whose bytes hash to ``digest`` (``Rendered.digest``), answering the
        request ``parts`` (path, query, fragment): it changes exactly when what the phone would be sent does, so a
        status change elsewhere in the list keeps its 304s. None when degraded: without the shared generation the
        rendering itself may be up to 2 s old."""
        if gen.shared is None:
            return None
        raw = "\x1f".join((self.build, str(gen.supplier_id), digest, *parts))
        return 'W/"' + hashlib.blake2b(raw.encode(), digest_size=12).hexdigest() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    # Weak comparison (RFC 9110 §13.1.2): W/ prefixes are ignored.
    opaque = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == opaque for tag in if_none_match.split(","))


def bump_after_write_middleware(app: Any) -> Any:
    """ASGI middleware: an unsafe request by a signed-in supplier bumps their generation before the response
    starts (the handler's transaction has committed by then). Safe requests pass through unwrapped: an app-wide
    ``before_send`` hook cost a quarter of the CPU of an SSE fan-out, once per event per phone."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method", "GET") in SAFE_METHODS:
            await app(scope, receive, send)
            return

        async def send_and_bump(message: Any) -> None:
            if message["type"] == "http.response.start":
                await bump_after_write(message, scope)
            await send(message)

        await app(scope, receive, send_and_bump)

    return middleware


async def bump_after_write(message: Any, scope: Any) -> None:
    """Supplier-wide unless the route declares a narrower ``cache_scope``: no route can forget to invalidate, and a
    new route is safe by default."""
    if message.get("type") != "http.response.start" or scope.get("method", "GET") in SAFE_METHODS:
        return
    session = scope.get("session")
    supplier_id = session.get("supplier_id") if isinstance(session, dict) else None
    if not isinstance(supplier_id, int):
        return
    resources = scope["app"].state.get("resources")
    cache = getattr(resources, "cache", None)
    if not isinstance(cache, HotCache):
        return
    # A route may declare that it changes less than the whole supplier: opt={"cache_scope": ("client",)} means only
    # the client in its path (a note shows on that client's page and nowhere else), "row" that client's row in the
    # lists and the dashboard (a status: not which clients a list holds, nor their order), "lists" any list row and
    # the dashboard, "nothing" no cached read at all. Undeclared (or anything not understood) means everything.
    handler = scope.get("route_handler")
    declared = getattr(handler, "opt", {}).get("cache_scope", ()) if handler is not None else ()
    if tuple(declared) == (NOTHING,):  # e.g. signing in: a session, no supplier data
        return
    client_id = scope.get("path_params", {}).get("client_id")
    scopes: set[str] = set()
    rows: set[int] | None = set()  # None: any row
    for name in declared:
        if name == "client" and isinstance(client_id, int):
            scopes.add(f"c:{client_id}")
        elif name == "row" and isinstance(client_id, int):
            scopes.add(LISTS)
            if rows is not None:
                rows.add(client_id)
        elif name == "lists":
            scopes.add(LISTS)
            rows = None
        else:
            scopes = set()
            break
    seq = await cache.bump(supplier_id, *sorted(scopes), rows=rows or ())
    if seq is not None:  # the writer's next request, wherever it lands, reads at least this far (``mirror``)
        cookie = floor_cookie(supplier_id, seq, secure=resources.settings.cookie_secure)
        message["headers"] = [*message.get("headers", ()), (b"set-cookie", cookie)]


__all__ = [
    "Generation",
    "HotCache",
    "bump_after_write",
    "bump_after_write_middleware",
    "etag_matches",
]

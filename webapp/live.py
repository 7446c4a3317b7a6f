"""Live progress in a web process: one Redis pub/sub subscription fans events out to every SSE connection.

Each connection owns a small asyncio queue. The doorbell published by a worker carries the event and its ids
in the job's and the supplier's capped streams; a connection that missed anything (it just reconnected, or
its queue overflowed) reads the gap from the stream with XRANGE, so it always delivers every event in order.
Rendering is shared: a fragment is rendered once per event per process, not once per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import cast

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from jobs.progress import Doorbell, ProgressEvent, decode_doorbell, decode_event, job_stream, supplier_stream

log = structlog.get_logger("wedsync.live")

QUEUE_SIZE = 64
CHANNEL_PATTERN = "wedsync:progress:live:*"
SSE_COUNT_KEY = "wedsync:sse:open:{}"
MAX_STREAMS_PER_SUPPLIER = 300  # DESIGN §5: a supplier's team and couples may watch at once (≥ 250)


class Listener:
    def __init__(self, supplier_id: int) -> None:
        self.supplier_id = supplier_id
        self.queue: asyncio.Queue[Doorbell | None] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self.overflowed = False
        self.generation = 0


class ProgressHub:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._listeners: dict[int, set[Listener]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._render_cache: dict[tuple[str, str], str] = {}
        # Bumped on every (re)subscription: doorbells rung while unsubscribed are lost, streams are not.
        self.generation = 0

    @property
    def connections(self) -> int:
        return sum(len(v) for v in self._listeners.values())

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="progress-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for listeners in self._listeners.values():
            for listener in listeners:
                with contextlib.suppress(asyncio.QueueFull):
                    listener.queue.put_nowait(None)

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.psubscribe(CHANNEL_PATTERN)
                    self.generation += 1
                    delay = 0.5
                    async for message in pubsub.listen():
                        if message.get("type") == "pmessage":
                            self._dispatch(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                # Connections stay open and catch up from the streams once Redis is back.
                log.warning("progress subscription lost; retrying", error=type(exc).__name__, in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    def _dispatch(self, raw: bytes) -> None:
        try:
            bell = decode_doorbell(raw)
        except msgspec.DecodeError:
            return
        for listener in self._listeners.get(bell.event.supplier_id, ()):
            try:
                listener.queue.put_nowait(bell)
            except asyncio.QueueFull:
                listener.overflowed = True  # it will re-read the gap from the stream

    def register(self, supplier_id: int) -> Listener:
        listener = Listener(supplier_id)
        listener.generation = self.generation
        self._listeners[supplier_id].add(listener)
        return listener

    def unregister(self, listener: Listener) -> None:
        listeners = self._listeners.get(listener.supplier_id)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._listeners[listener.supplier_id]

    def render_once(self, event_id: str, template: str, render: Callable[[], str]) -> str:
        key = (event_id, template)
        html = self._render_cache.get(key)
        if html is None:
            html = render()
            if len(self._render_cache) > 1024:
                self._render_cache.clear()
            self._render_cache[key] = html
        return html

    async def backlog(self, stream: str, after: str) -> list[tuple[str, ProgressEvent]]:
        """Events in ``stream`` strictly after id ``after`` ("0" for all), oldest first."""
        entries = cast(
            "list[tuple[bytes, dict[bytes, bytes]]]",
            await self._redis.xrange(stream, min=f"({after}" if after != "0" else "-", max="+", count=500),
        )
        out = []
        for entry_id, fields in entries:
            with contextlib.suppress(msgspec.DecodeError, KeyError):
                out.append((entry_id.decode(), decode_event(fields[b"e"])))
        return out

    async def last_id(self, stream: str) -> str:
        entries = cast("list[tuple[bytes, dict[bytes, bytes]]]", await self._redis.xrevrange(stream, count=1))
        return entries[0][0].decode() if entries else "0"

    async def claim_slot(self, supplier_id: int, connection_id: str, ttl_s: float) -> bool:
        """Count this stream against the supplier's cap (a sorted set of expiring slots, shared by all processes)."""
        key = SSE_COUNT_KEY.format(supplier_id)
        now = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zadd(key, {connection_id: now + ttl_s})
            pipe.zcard(key)
            pipe.expire(key, int(ttl_s) + 60)
            _, _, count, _ = await pipe.execute()
        if int(count) > MAX_STREAMS_PER_SUPPLIER:
            await self._redis.zrem(key, connection_id)
            return False
        return True

    async def release_slot(self, supplier_id: int, connection_id: str) -> None:
        with contextlib.suppress(RedisError):
            await self._redis.zrem(SSE_COUNT_KEY.format(supplier_id), connection_id)


def stream_for(job_id: int | None, supplier_id: int) -> str:
    return job_stream(job_id) if job_id is not None else supplier_stream(supplier_id)


async def follow(
    hub: ProgressHub,
    supplier_id: int,
    job_id: int | None,
    after: str,
    *,
    heartbeat_s: float,
) -> AsyncIterator[tuple[str, ProgressEvent] | None]:
    """Every event for one job (or all of a supplier's jobs) after ``after``, in order; None = heartbeat time.

    Registers for live doorbells *before* reading the backlog, so nothing published in between is lost;
    ids already delivered are skipped.
    """
    stream = stream_for(job_id, supplier_id)
    listener = hub.register(supplier_id)
    last = after
    try:
        for entry_id, event in await hub.backlog(stream, last):
            yield entry_id, event
            last = entry_id
        while True:
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for wraps the get in a new Task, a quarter
                # of the CPU a fan-out to thousands of streams spends.
                async with asyncio.timeout(heartbeat_s):
                    bell = await listener.queue.get()
            except TimeoutError:
                yield None
                continue
            if bell is None:
                return  # the process is shutting down
            if job_id is not None and bell.event.job_id != job_id:
                continue
            entry_id = bell.job_event_id if job_id is not None else bell.supplier_event_id
            if listener.overflowed or listener.generation != hub.generation:
                listener.overflowed, listener.generation = False, hub.generation
                for gap_id, gap_event in await hub.backlog(stream, last):
                    yield gap_id, gap_event
                    last = gap_id
                continue
            if not _stream_id_after(entry_id, last):
                continue  # already delivered from the backlog
            yield entry_id, bell.event
            last = entry_id
    finally:
        hub.unregister(listener)


def _stream_id_after(candidate: str, last: str) -> bool:
    if last == "0":
        return True
    a, _, b = candidate.partition("-")
    c, _, d = last.partition("-")
    return (int(a), int(b or 0)) > (int(c), int(d or 0))

"""Live progress in a web process: one Redis pub/sub subscription fans events out to every SSE connection.

Each connection is one small ``Subscriber`` record (no queue, no timer, no task of its own besides the one
watching for a disconnect). When a worker's doorbell arrives, the hub renders the event's fragment and
encodes its SSE bytes once per fan-out (one variant per stream its id comes from), appends the same bytes
object to every matching subscriber's short pending list and wakes that connection's writer. A subscriber
that fell behind (its list overflowed, or the pub/sub connection was lost) re-reads the gap from the job's
or supplier's capped stream with XRANGE, so it always delivers every event, in order, once.

Heartbeats are one hub timer for all connections: once a second it takes those due, checks their sessions
and refreshes their stream slots in one batch, then wakes them to write a comment (or to close, signed out).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Callable
from typing import cast

import msgspec
import structlog
from litestar.response import ServerSentEventMessage
from litestar.stores.base import Store
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.progress import ProgressEvent, decode_doorbell, decode_event, job_stream, supplier_stream

log = structlog.get_logger("wedsync.live")

PENDING_MAX = 64  # events waiting for one slow phone before it falls back to reading the stream
CHANNEL_PATTERN = "wedsync:progress:live:*"
SSE_COUNT_KEY = "wedsync:sse:open:{}"
MAX_STREAMS_PER_SUPPLIER = 300  # DESIGN §5: a supplier's team and couples may watch at once (≥ 250)
HEARTBEAT_S = 15.0
BEAT_TICK_S = 1.0
BACKLOG_PAGE = 500
SLOT_TTL_S = HEARTBEAT_S * 4  # a slot outlives a few missed refreshes, not a crashed process

StreamId = tuple[int, int]
START: StreamId = (0, 0)  # before every entry: "everything in the stream"


def parse_id(value: str) -> StreamId:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


def format_id(value: StreamId) -> str:
    return f"{value[0]}-{value[1]}"


def encode(entry_id: str, html: str, *, end: bool, retry_ms: int | None = None) -> bytes:
    """One SSE ``progress`` message (plus the ``end`` message when the job finished), as wire bytes."""
    data = ServerSentEventMessage(data=html, event="progress", id=entry_id, retry=retry_ms).encode()
    if end:
        data += ServerSentEventMessage(data="finished", event="end", id=entry_id).encode()
    return data


KEEP_ALIVE = ServerSentEventMessage(comment="keep-alive").encode()


def stream_of(job_id: int | None, supplier_id: int) -> str:
    """The capped Redis stream a phone's SSE ids come from: its job's, or its supplier's (every job)."""
    return job_stream(job_id) if job_id is not None else supplier_stream(supplier_id)


class Subscriber:
    """One SSE connection as the hub sees it; its writer sleeps in ``wait`` until there is something to do."""

    __slots__ = (
        "beat_at", "beat_due", "behind", "closing", "connection_id", "ended", "job_id", "last",
        "pending", "session_id", "supplier_id", "waiter",
    )  # fmt: skip

    def __init__(self, supplier_id: int, job_id: int | None, session_id: str, connection_id: str) -> None:
        self.supplier_id, self.job_id = supplier_id, job_id
        self.session_id, self.connection_id = session_id, connection_id
        self.last: StreamId = START  # the last id written; anything at or before it is skipped
        self.pending: list[tuple[StreamId, bytes, bool]] = []  # (id, wire bytes shared by all, ends the job)
        self.behind = False  # events were missed: re-read the gap from the stream
        self.beat_at = time.monotonic() + HEARTBEAT_S
        self.beat_due = False
        self.ended = False  # the job's final event was written
        self.closing: str | None = None  # why the stream must close: "gone", "signed out", "shutdown"
        self.waiter: asyncio.Future[None] | None = None

    @property
    def stream(self) -> str:
        return stream_of(self.job_id, self.supplier_id)

    def push(self, item: tuple[StreamId, bytes, bool]) -> None:
        """Queue one encoded event: ``item`` is shared by every subscriber of the fan-out, not copied."""
        if len(self.pending) >= PENDING_MAX:
            self.pending.clear()
            self.behind = True
        else:
            self.pending.append(item)
        self.wake()

    def wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def idle(self) -> asyncio.Future[None] | None:
        """A future to await until there is something to do, or None if there is already.

        A bare future rather than an asyncio.Event (which keeps a deque, ~700 bytes, per connection), and no
        coroutine of its own: every object a connection holds is one more for each full garbage collection."""
        if self.pending or self.behind or self.beat_due or self.closing:
            return None
        self.waiter = asyncio.get_running_loop().create_future()
        return self.waiter

    def take(self) -> bytes:
        """The pending events not yet written, in id order, as one write; marks the job ended if one ends it."""
        out = []
        for entry, data, ends in self.pending:
            if entry > self.last:
                out.append(data)
                self.last = entry
                if ends:
                    self.ended = True
                    break
        self.pending.clear()
        return b"".join(out)


class ProgressHub:
    def __init__(self, redis: Redis, render: Callable[[ProgressEvent], str], sessions: Store) -> None:
        self._redis = redis
        self._render = render
        self._sessions = sessions
        self._subscribers: dict[int, set[Subscriber]] = defaultdict(set)
        self._tasks: list[asyncio.Task[None]] = []
        self._html: dict[ProgressEvent, str] = {}  # rendered once per event per process, not per connection

    @property
    def connections(self) -> int:
        return sum(len(v) for v in self._subscribers.values())

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="progress-hub"),
            asyncio.create_task(self._beat(), name="progress-heartbeat"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for subscribers in self._subscribers.values():
            for sub in subscribers:
                sub.closing = "shutdown"
                sub.wake()

    def subscribe(self, supplier_id: int, job_id: int | None, session_id: str, connection_id: str) -> Subscriber:
        sub = Subscriber(supplier_id, job_id, session_id, connection_id)
        self._subscribers[supplier_id].add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        subscribers = self._subscribers.get(sub.supplier_id)
        if subscribers is not None:
            subscribers.discard(sub)
            if not subscribers:
                del self._subscribers[sub.supplier_id]

    def html(self, event: ProgressEvent) -> str:
        html = self._html.get(event)
        if html is None:
            html = self._render(event)
            if len(self._html) > 1024:
                self._html.clear()
            self._html[event] = html
        return html

    async def _listen(self) -> None:
        delay, subscribed_before = 0.5, False
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.psubscribe(CHANNEL_PATTERN)
                    if subscribed_before:  # doorbells rung while unsubscribed are lost, the streams are not
                        for subscribers in self._subscribers.values():
                            for sub in subscribers:
                                sub.behind = True
                                sub.wake()
                    subscribed_before, delay = True, 0.5
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
        event = bell.event
        subscribers = self._subscribers.get(event.supplier_id)
        if not subscribers:
            return
        # Encoded at most twice per fan-out (ids from the job's stream, ids from the supplier's), then the same
        # bytes object goes to every phone.
        for_job: tuple[StreamId, bytes, bool] | None = None
        for_supplier: tuple[StreamId, bytes, bool] | None = None
        for sub in subscribers:
            if sub.job_id is None:
                if for_supplier is None:
                    html = self.html(event)
                    for_supplier = (
                        parse_id(bell.supplier_event_id),
                        encode(bell.supplier_event_id, html, end=False),
                        False,
                    )
                sub.push(for_supplier)
            elif sub.job_id == event.job_id:
                if for_job is None:
                    html, end = self.html(event), event.finished
                    for_job = (parse_id(bell.job_event_id), encode(bell.job_event_id, html, end=end), end)
                sub.push(for_job)

    async def catch_up(self, sub: Subscriber) -> bytes:
        """Every event in the subscriber's stream after the last one it wrote, encoded (a resume or a gap)."""
        sub.behind = False
        out = []
        while not sub.ended:
            entries = await self.backlog(sub.stream, sub.last)
            for entry_id, event in entries:
                end = sub.job_id is not None and event.finished
                out.append(encode(entry_id, self.html(event), end=end))
                sub.last = parse_id(entry_id)
                if end:
                    sub.ended = True
                    break
            if len(entries) < BACKLOG_PAGE:
                break
        return b"".join(out)

    async def backlog(self, stream: str, after: StreamId) -> list[tuple[str, ProgressEvent]]:
        """Events in ``stream`` strictly after id ``after``, oldest first."""
        entries = cast(
            "list[tuple[bytes, dict[bytes, bytes]]]",
            await self._redis.xrange(stream, min=f"({format_id(after)}", max="+", count=BACKLOG_PAGE),
        )
        out = []
        for entry_id, fields in entries:
            with contextlib.suppress(msgspec.DecodeError, KeyError):
                out.append((entry_id.decode(), decode_event(fields[b"e"])))
        return out

    async def last_id(self, stream: str) -> StreamId:
        entries = cast("list[tuple[bytes, dict[bytes, bytes]]]", await self._redis.xrevrange(stream, count=1))
        return parse_id(entries[0][0].decode()) if entries else START

    async def claim_slot(self, supplier_id: int, connection_id: str) -> bool:
        """Count this stream against the supplier's cap (a sorted set of expiring slots, shared by all processes)."""
        key = SSE_COUNT_KEY.format(supplier_id)
        now = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zadd(key, {connection_id: now + SLOT_TTL_S})
            pipe.zcard(key)
            pipe.expire(key, int(SLOT_TTL_S) + 60)
            _, _, count, _ = await pipe.execute()
        if int(count) > MAX_STREAMS_PER_SUPPLIER:
            await self._redis.zrem(key, connection_id)
            return False
        return True

    async def release_slot(self, supplier_id: int, connection_id: str) -> None:
        with contextlib.suppress(RedisError):
            await self._redis.zrem(SSE_COUNT_KEY.format(supplier_id), connection_id)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(BEAT_TICK_S)
            now = time.monotonic()
            due = [s for subs in self._subscribers.values() for s in subs if s.beat_at <= now and not s.closing]
            if due:
                try:
                    await self._heartbeat(due, now)
                except Exception:  # one bad round must not stop every phone's heartbeat for good
                    log.exception("SSE heartbeat round failed")

    async def _heartbeat(self, due: list[Subscriber], now: float) -> None:
        """Sessions checked once per distinct session, slots refreshed in one pipeline, then each phone woken."""
        for sub in due:
            sub.beat_at = now + HEARTBEAT_S
        sessions = list({s.session_id for s in due})
        alive = dict(zip(sessions, await asyncio.gather(*(self._sessions.exists(s) for s in sessions)), strict=True))
        slots: dict[int, dict[str, float]] = defaultdict(dict)
        expires = time.time() + SLOT_TTL_S
        for sub in due:
            if not sub.closing:
                slots[sub.supplier_id][sub.connection_id] = expires
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for supplier_id, mapping in slots.items():
                    key = SSE_COUNT_KEY.format(supplier_id)
                    pipe.zadd(key, mapping, xx=True)  # xx: a stream that closed meanwhile stays released
                    pipe.expire(key, int(SLOT_TTL_S) + 60)
                await pipe.execute()
        except RedisError as exc:
            log.warning("SSE slots not refreshed", error=type(exc).__name__)
        for sub in due:
            if alive[sub.session_id]:
                sub.beat_due = True
            else:
                sub.closing = "signed out"
            sub.wake()

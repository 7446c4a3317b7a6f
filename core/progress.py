"""Progress events: what a photographer watching an import sees, at each committed batch and state change.

The job row in PostgreSQL is the truth. Each event is also appended to two capped Redis streams — one per
job, one per supplier — whose entry ids are the SSE event ids a reconnecting phone resumes after, and a
doorbell is published on the supplier's channel so every web process can push it at once. Redis being
away never fails an import: the event is dropped from the live feed and the next one carries the state.
"""

from __future__ import annotations

import time

import msgspec
import redis
import structlog

from core.job_lifecycle import is_terminal

log = structlog.get_logger("wedsync.progress")

JOB_STREAM_LEN = 500
SUPPLIER_STREAM_LEN = 2_000


def job_stream(job_id: int) -> str:
    return f"wedsync:progress:job:{job_id}"


def supplier_stream(supplier_id: int) -> str:
    return f"wedsync:progress:supplier:{supplier_id}"


def supplier_channel(supplier_id: int) -> str:
    return f"wedsync:progress:live:{supplier_id}"


class ProgressEvent(msgspec.Struct, frozen=True, kw_only=True):
    job_id: int
    supplier_id: int
    kind: str
    source: str
    status: str
    processed: int = 0
    total: int | None = None
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    rows_per_s: float | None = None
    eta_s: float | None = None
    message: str | None = None
    at: float = 0.0
    stalled: bool = False  # running, but its row has not moved for JOB_STALL_S (read from PostgreSQL by the pages)

    @property
    def finished(self) -> bool:
        return is_terminal(self.status)

    @property
    def percent(self) -> int:
        if self.finished and self.status != "cancelled":
            return 100
        if not self.total:
            return 0
        return min(100, round(100 * self.processed / self.total))


class Doorbell(msgspec.Struct, frozen=True):
    """What goes over pub/sub: the event and its ids in both streams."""

    job_event_id: str
    supplier_event_id: str
    event: ProgressEvent


_encoder = msgspec.json.Encoder()


class Publisher:
    def __init__(self, redis_url: str) -> None:
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)

    def emit(self, event: ProgressEvent) -> None:
        event = msgspec.structs.replace(event, at=event.at or time.time())
        payload = _encoder.encode(event)
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(job_stream(event.job_id), {"e": payload}, maxlen=JOB_STREAM_LEN, approximate=True)
                pipe.xadd(
                    supplier_stream(event.supplier_id), {"e": payload}, maxlen=SUPPLIER_STREAM_LEN, approximate=True
                )
                pipe.expire(job_stream(event.job_id), 7 * 24 * 3600)
                job_id, supplier_id, _ = pipe.execute()
            bell = Doorbell(job_id.decode(), supplier_id.decode(), event)
            self._redis.publish(supplier_channel(event.supplier_id), _encoder.encode(bell))
        except redis.RedisError as exc:
            log.warning("progress event not published", job_id=event.job_id, error=type(exc).__name__)


def decode_event(raw: bytes) -> ProgressEvent:
    return msgspec.json.decode(raw, type=ProgressEvent)


def decode_doorbell(raw: bytes) -> Doorbell:
    return msgspec.json.decode(raw, type=Doorbell)

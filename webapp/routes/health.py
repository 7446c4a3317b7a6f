"""``GET /health``: PostgreSQL, Redis and worker heartbeat, each checked with a tight timeout (liveness).
``GET /health/ready``: the same plus the job queue's lag, with room to answer (readiness)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
from litestar import Request, Response, get

from jobs.heartbeat import HEARTBEAT_KEY, STALE_AFTER_S
from webapp.observability import QueueStats, queue_stats
from webapp.state import resources

CHECK_TIMEOUT_S = 0.03  # the whole answer must come back in < 50 ms


class Check(msgspec.Struct):
    ok: bool
    ms: float
    error: str | None = None


class WorkerCheck(msgspec.Struct):
    ok: bool
    workers: int
    heartbeat_age_s: float | None


class Health(msgspec.Struct):
    status: str
    postgres: Check
    redis: Check
    worker: WorkerCheck


async def _timed(coro: Any) -> Check:
    start = time.perf_counter()
    try:
        await asyncio.wait_for(coro, CHECK_TIMEOUT_S)
    except Exception as exc:  # any failure is a "not ok", reported by type only (no secrets)
        return Check(False, round((time.perf_counter() - start) * 1000, 2), type(exc).__name__)
    return Check(True, round((time.perf_counter() - start) * 1000, 2))


@get("/health", name="health", exclude_from_csrf=True, skip_session=True, cache=False)
async def health(request: Request[Any, Any, Any]) -> Response[bytes]:
    res = resources(request)

    async def pg() -> None:
        async with res.pool.connection(timeout=CHECK_TIMEOUT_S) as conn:
            await conn.execute("SELECT 1")

    pg_check, redis_check = await asyncio.gather(_timed(pg()), _timed(res.redis.ping()))
    worker = WorkerCheck(False, 0, None)
    if redis_check.ok:
        try:
            beats = await asyncio.wait_for(res.redis.zrange(HEARTBEAT_KEY, -1, -1, withscores=True), CHECK_TIMEOUT_S)
            count = await res.redis.zcount(HEARTBEAT_KEY, time.time() - STALE_AFTER_S, "+inf")
        except Exception:  # reported as an unhealthy worker below
            beats, count = [], 0
        if beats:
            age = round(max(0.0, time.time() - float(beats[0][1])), 1)
            worker = WorkerCheck(age < STALE_AFTER_S, int(count), age)
    ok = pg_check.ok and redis_check.ok and worker.ok
    body = Health("ok" if ok else "degraded", pg_check, redis_check, worker)
    return Response(
        msgspec.json.encode(body),
        status_code=200 if ok else 503,
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )


# Readiness: may this process take traffic? Slower checks than liveness are fine here (a load balancer polls it
# every few seconds), and it adds the queue: the age of the oldest message nobody has picked up.
READY_TIMEOUT_S = 0.5
# Past this, jobs are not being worked off (no worker, or all stuck): in season a queue of 100 imports drains in
# minutes, so a quarter of an hour of waiting means something is wrong, not busy.
READY_MAX_QUEUE_LAG_S = 900.0


class QueueCheck(msgspec.Struct):
    ok: bool
    depth: int
    oldest_age_s: float | None
    queues: list[QueueStats]


class Readiness(msgspec.Struct):
    status: str
    postgres: Check
    redis: Check
    worker: WorkerCheck
    queue: QueueCheck
    problems: list[str]


async def _ready_timed(coro: Any) -> Check:
    start = time.perf_counter()
    try:
        await asyncio.wait_for(coro, READY_TIMEOUT_S)
    except Exception as exc:  # reported by type only
        return Check(False, round((time.perf_counter() - start) * 1000, 2), type(exc).__name__)
    return Check(True, round((time.perf_counter() - start) * 1000, 2))


@get("/health/ready", name="health_ready", exclude_from_csrf=True, skip_session=True, cache=False)
async def ready(request: Request[Any, Any, Any]) -> Response[bytes]:
    res = resources(request)

    async def pg() -> None:
        async with res.pool.connection(timeout=READY_TIMEOUT_S) as conn:
            await conn.execute("SELECT 1")

    pg_check, redis_check = await asyncio.gather(_ready_timed(pg()), _ready_timed(res.redis.ping()))
    worker = WorkerCheck(False, 0, None)
    queue = QueueCheck(False, 0, None, [])
    problems = []
    if not pg_check.ok:
        problems.append("The database is not answering.")
    if redis_check.ok:
        try:
            count = await asyncio.wait_for(
                res.redis.zcount(HEARTBEAT_KEY, time.time() - STALE_AFTER_S, "+inf"), READY_TIMEOUT_S
            )
            beats = await asyncio.wait_for(res.redis.zrange(HEARTBEAT_KEY, -1, -1, withscores=True), READY_TIMEOUT_S)
            stats = await asyncio.wait_for(queue_stats(res.redis), READY_TIMEOUT_S)
        except Exception:  # counted as not ready below
            count, beats, stats = 0, [], None
        if beats:
            age = round(max(0.0, time.time() - float(beats[0][1])), 1)
            worker = WorkerCheck(age < STALE_AFTER_S, int(count), age)
        if stats is not None:
            oldest = max((q.oldest_age_s for q in stats), default=0.0)
            queue = QueueCheck(oldest <= READY_MAX_QUEUE_LAG_S, sum(q.depth for q in stats), oldest, stats)
            if not queue.ok:
                problems.append(f"Imports have waited {oldest / 60:.0f} minutes without a worker picking them up.")
    else:
        problems.append("Redis is not answering.")
    if redis_check.ok and not worker.ok:
        problems.append("No worker has checked in for 30 seconds.")
    ok = pg_check.ok and redis_check.ok and worker.ok and queue.ok
    body = Readiness("ready" if ok else "not ready", pg_check, redis_check, worker, queue, problems)
    return Response(
        msgspec.json.encode(body),
        status_code=200 if ok else 503,
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )

"""``GET /health``: PostgreSQL, Redis and worker heartbeat, each checked with a tight timeout."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
from litestar import Request, Response, get

from jobs.heartbeat import HEARTBEAT_KEY, STALE_AFTER_S
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

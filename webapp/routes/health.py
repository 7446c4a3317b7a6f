"""``GET /health``: liveness of this web process, for a load balancer. ``200`` while it can serve pages, which needs
PostgreSQL and nothing else: with Redis away pages are answered from memory and PostgreSQL (see the README's
"Redis down"), and a silent worker delays imports, not pages. What is degraded is named in the body.
``GET /health/ready``: the strict check, for alerting and deploys: PostgreSQL, Redis, a worker heartbeat and the
job queue's lag, with room to answer; ``503`` with plain-words ``problems`` when any is wrong."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import msgspec
from litestar import Response, get

from core.queue import HEARTBEAT_KEY, STALE_AFTER_S
from core.settings import settings
from webapp.observability import QueueStats, queue_stats
from webapp.state import Resources

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
    status: str  # "ok", "degraded" (pages are served; see ``degraded``) or "down" (no PostgreSQL: 503)
    degraded: list[str]  # of "postgres", "redis", "worker"
    postgres: Check
    redis: Check
    worker: WorkerCheck


async def _timed(coro: Any, timeout_s: float) -> Check:
    start = time.perf_counter()
    try:
        await asyncio.wait_for(coro, timeout_s)
    except Exception as exc:  # any failure is a "not ok", reported by type only (no secrets)
        return Check(False, round((time.perf_counter() - start) * 1000, 2), type(exc).__name__)
    return Check(True, round((time.perf_counter() - start) * 1000, 2))


async def _core_checks(res: Any, timeout_s: float) -> tuple[Check, Check, WorkerCheck]:
    """PostgreSQL, Redis and the freshest worker heartbeat, each within ``timeout_s``: shared by both endpoints."""

    async def pg() -> None:
        async with res.pool.connection(timeout=timeout_s) as conn:
            await conn.execute("SELECT 1")

    pg_check, redis_check = await asyncio.gather(_timed(pg(), timeout_s), _timed(res.redis.ping(), timeout_s))
    worker = WorkerCheck(False, 0, None)
    if redis_check.ok:
        try:
            beats = await asyncio.wait_for(res.redis.zrange(HEARTBEAT_KEY, -1, -1, withscores=True), timeout_s)
            count = await asyncio.wait_for(
                res.redis.zcount(HEARTBEAT_KEY, time.time() - STALE_AFTER_S, "+inf"), timeout_s
            )
        except Exception:  # reported as an unhealthy worker
            beats, count = [], 0
        if beats:
            age = round(max(0.0, time.time() - float(beats[0][1])), 1)
            worker = WorkerCheck(age < STALE_AFTER_S, int(count), age)
    return pg_check, redis_check, worker


def _answer(body: msgspec.Struct, ok: bool) -> Response[bytes]:
    return Response(
        msgspec.json.encode(body),
        status_code=200 if ok else 503,
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )


@get("/health", name="health", exclude_from_csrf=True, skip_session=True, cache=False)
async def health(res: Resources) -> Response[bytes]:
    pg_check, redis_check, worker = await _core_checks(res, CHECK_TIMEOUT_S)
    checks = {"postgres": pg_check.ok, "redis": redis_check.ok, "worker": worker.ok}
    degraded = [name for name, ok in checks.items() if not ok]
    status = "down" if not pg_check.ok else "degraded" if degraded else "ok"
    return _answer(Health(status, degraded, pg_check, redis_check, worker), pg_check.ok)


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


class JobsCheck(msgspec.Struct):
    """Running jobs whose row has not moved for ``JOB_STALL_S``: reported, for alerting, but not a reason to take this
    web process out of rotation (it serves pages as well as ever; housekeeping ends or resends those jobs)."""

    stalled: int | None  # None: PostgreSQL did not answer
    stall_after_s: float


class Readiness(msgspec.Struct):
    status: str
    postgres: Check
    redis: Check
    worker: WorkerCheck
    queue: QueueCheck
    problems: list[str]
    jobs: JobsCheck | None = None


STALLED_JOBS = "SELECT stalled_job_count(%s)"


async def _stalled_jobs(res: Any, stall_s: float) -> int:
    async with res.pool.connection(timeout=READY_TIMEOUT_S) as conn:
        row = await (await conn.execute(STALLED_JOBS, [stall_s])).fetchone()
    return int(row[0]) if row else 0


@get("/health/ready", name="health_ready", exclude_from_csrf=True, skip_session=True, cache=False)
async def ready(res: Resources) -> Response[bytes]:
    pg_check, redis_check, worker = await _core_checks(res, READY_TIMEOUT_S)
    queue = QueueCheck(False, 0, None, [])
    problems = []
    jobs = JobsCheck(None, settings().job_stall_s)
    if not pg_check.ok:
        problems.append("The database is not answering.")
    else:
        # Left unknown if it fails: the database check above says whether PostgreSQL answers.
        with contextlib.suppress(Exception):
            jobs.stalled = await asyncio.wait_for(_stalled_jobs(res, jobs.stall_after_s), READY_TIMEOUT_S)
    if redis_check.ok:
        try:
            stats: list[QueueStats] | None = await asyncio.wait_for(queue_stats(res.redis), READY_TIMEOUT_S)
        except Exception:  # counted as not ready below
            stats = None
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
    readiness = Readiness("ready" if ok else "not ready", pg_check, redis_check, worker, queue, problems, jobs)
    return _answer(readiness, ok)

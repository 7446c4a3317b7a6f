"""What an operator needs to see: statement timing, pool and queue gauges, and per-route latency over the last hour.

- **Statement time**: the pools' cursors time every ``execute`` into ``wedsync_db_query_seconds``
  (``core.db.instruments``, shared with the workers).
- **Pool and queues**: read when they are asked for (a ``/metrics`` scrape, the operator page) and every few
  seconds while a web process serves traffic, into gauges that work in Prometheus multiprocess mode.
- **Latency window**: Prometheus histograms are cumulative since a process started, so "p95 over the last hour"
  needs its own store. Each web process counts request durations into log-spaced buckets per route and minute and
  adds them to a Redis hash per minute (``HINCRBY``, expiring after two hours) every few seconds. We chose
  per-minute histogram buckets over a sorted set of raw timings: memory and the page's work are bounded by
  routes x buckets x 60 whatever the traffic (a sorted set would hold 5 million members an hour at the 1,500
  requests/s budget), every web process on every machine adds into the same counts, and a request costs a dict
  increment, not a Redis round trip. Percentiles are read to the upper edge of their bucket (buckets grow by
  25 %, so a reported p95 is at most 25 % above the true one).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import math
import os
import re
import secrets
import time
from collections import Counter as Tally
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
import structlog
from litestar import Request, Response, get
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from core.db.instruments import record_pool_stats
from core.metrics import EVENT_LOOP_LAG, QUEUE_DEPTH, QUEUE_OLDEST_AGE
from core.queue import NAMESPACE, QUEUES
from core.settings import settings
from webapp.state import resources

log = structlog.get_logger("wedsync.observability")


class QueueStats(msgspec.Struct, frozen=True):
    queue: str
    depth: int
    delayed: int
    oldest_age_s: float


async def queue_stats(redis: Redis, names: Iterable[str] | None = None) -> list[QueueStats]:
    """Depth and age of the oldest waiting message per queue, straight from Dramatiq's Redis layout: the queue is a
    list of message ids (pushed right, popped left, so index 0 is the oldest) and ``<queue>.msgs`` holds bodies."""
    names = list(names) if names is not None else list(QUEUES)
    now_ms = time.time() * 1000
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            key = f"{NAMESPACE}:{name}"
            pipe.llen(key)
            pipe.llen(key + ".DQ")
            pipe.lindex(key, 0)
        raw = await pipe.execute()
    found = []
    for i, name in enumerate(names):
        depth, delayed, oldest_id = int(raw[3 * i]), int(raw[3 * i + 1]), raw[3 * i + 2]
        age = 0.0
        if oldest_id is not None:
            body = await redis.hget(f"{NAMESPACE}:{name}.msgs", oldest_id)
            if body is not None:
                with contextlib.suppress(msgspec.DecodeError, TypeError, ValueError):
                    stamp = msgspec.json.decode(body, type=dict[str, Any]).get("message_timestamp")
                    age = max(0.0, (now_ms - float(stamp)) / 1000) if stamp else 0.0
        found.append(QueueStats(name, depth, delayed, round(age, 1)))
    return found


async def refresh_gauges(pool: AsyncConnectionPool, redis: Redis) -> list[QueueStats]:
    record_pool_stats(pool)
    try:
        stats = await asyncio.wait_for(queue_stats(redis), 1.0)
    except Exception:  # Redis away: the queue gauges keep their last value; /health/ready reports the outage
        return []
    for q in stats:
        QUEUE_DEPTH.labels(q.queue).set(q.depth + q.delayed)
        QUEUE_OLDEST_AGE.labels(q.queue).set(q.oldest_age_s)
    return stats


def metrics_registry() -> CollectorRegistry:
    """All processes' metrics in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``), else this process's."""
    if settings().metrics_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def metric_families(registry: CollectorRegistry | None = None) -> dict[str, Metric]:
    return {family.name: family for family in (registry or metrics_registry()).collect()}


def sample_sum(families: Mapping[str, Metric], name: str, suffix: str = "", **labels: str) -> float:
    family = families.get(name)
    if family is None:
        return 0.0
    return sum(
        s.value
        for s in family.samples
        if s.name == name + suffix and all(s.labels.get(k) == v for k, v in labels.items())
    )


@get("/metrics", name="metrics", exclude_from_csrf=True, skip_session=True, cache=False, include_in_schema=False)
async def serve_metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus text. Replaces Litestar's PrometheusController so pool and queue gauges are fresh at scrape."""
    res = resources(request)
    await refresh_gauges(res.pool, res.redis)
    body = generate_latest(metrics_registry())
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"cache-control": "no-store"})


# ---------------------------------------------------------------------------------------------------------------
# Latency window: per-route, per-minute histogram buckets in Redis

WINDOW_KEY = "wedsync:latency:{minute}"
WINDOW_TTL_S = 2 * 3600
FLUSH_EVERY_S = 5.0
# Bucket upper edges in ms: 0.5 ms x 1.25^k up to ~2 minutes (57 buckets), then everything slower.
BUCKET_EDGES_MS = tuple(0.5 * 1.25**k for k in range(57))
_SKIP_PATHS = ("/metrics", "/static", "/health")


def bucket_of(ms: float) -> int:
    return bisect.bisect_left(BUCKET_EDGES_MS, ms)


def bucket_edge_ms(index: int) -> float:
    return BUCKET_EDGES_MS[index] if index < len(BUCKET_EDGES_MS) else math.inf


class LatencyWindow:
    """One per web process: counts in memory, added to Redis every ``FLUSH_EVERY_S`` by the next request."""

    def __init__(self, redis: Redis | None = None, pool: AsyncConnectionPool | None = None) -> None:
        self.pending: Tally[tuple[int, str, int]] = Tally()  # (minute, "METHOD path", bucket) -> requests
        self.last_flush = time.monotonic()
        self._flushing: asyncio.Task[None] | None = None
        self.redis = redis
        self.pool = pool

    def record(self, route: str, seconds: float, now: float | None = None) -> None:
        minute = int((now if now is not None else time.time()) // 60)
        self.pending[(minute, route, bucket_of(seconds * 1000))] += 1
        if time.monotonic() - self.last_flush >= FLUSH_EVERY_S and (self._flushing is None or self._flushing.done()):
            self.last_flush = time.monotonic()
            self._flushing = asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> None:
        """Add pending counts to Redis (and refresh this process's pool gauges); on error the counts are kept."""
        if self.pool is not None:
            record_pool_stats(self.pool)
        if self.redis is None or not self.pending:
            return
        batch, self.pending = self.pending, Tally()
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for minute in {m for m, _, _ in batch}:
                    key = WINDOW_KEY.format(minute=minute)
                    for (m, route, bucket), count in batch.items():
                        if m == minute:
                            pipe.hincrby(key, f"{route}|{bucket}", count)
                    pipe.expire(key, WINDOW_TTL_S)
                await pipe.execute()
        except Exception:  # Redis away: keep the counts for the next flush rather than lose them
            self.pending.update(batch)
            log.warning("latency window not saved; will retry", routes=len({r for _, r, _ in batch}))

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Every route's request id, Prometheus metrics and latency window in one layer (``observe_requests``)."""
        return observe_requests(app, self)


LOOP_TICK_S = 0.05


async def watch_event_loop(tick_s: float = LOOP_TICK_S) -> None:
    """Run for the process's life: how late the loop wakes a ``tick_s`` timer is how long some request's
    synchronous work held it (``wedsync_event_loop_lag_seconds``). Twenty wake-ups a second cost nothing next to
    the requests, and this is the figure that says whether any one request is too expensive for the loop.
    Hand-written: prometheus-client has no loop monitor, and aiomonitor and friends are consoles, not metrics."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time()
        await asyncio.sleep(tick_s)  # the timer being measured
        EVENT_LOOP_LAG.observe(max(0.0, loop.time() - asked - tick_s))


# ---------------------------------------------------------------------------------------------------------------
# One layer per request for what every route is measured by

# The names and labels Litestar's PrometheusMiddleware used (dashboards and the bench read them), kept by one layer
# that also sets the request id and feeds the latency window: three layers cost three send wrappers, three Request
# objects and a label dict per request, and Prometheus's ``labels()`` lookup each time (~7% of a cached page's CPU).
_LABELS = ("method", "path", "status_code", "app_name")
APP_NAME = "wedsync"
REQUESTS = Counter("wedsync_requests", "Total requests", _LABELS)
REQUEST_ERRORS = Counter("wedsync_requests_error", "Total errors in requests", _LABELS)
REQUEST_SECONDS = Histogram("wedsync_request_duration_seconds", "Request duration, in seconds", _LABELS)
IN_PROGRESS = Gauge(
    "wedsync_requests_in_progress", "Total requests currently in progress", _LABELS, multiprocess_mode="livesum"
)
_METRIC_SKIP = ("/metrics", "/static")
_SAFE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")


class _RouteMetrics:
    """The metric children of one (method, route, status), looked up once per process instead of per request."""

    def __init__(self, method: str, path: str, status: int) -> None:
        values = (method, path, str(status), APP_NAME)
        self.count = REQUESTS.labels(*values)
        self.seconds = REQUEST_SECONDS.labels(*values)
        self.errors = REQUEST_ERRORS.labels(*values) if status >= 500 else None


_route_metrics: dict[tuple[str, str, int], _RouteMetrics] = {}
_in_progress: dict[tuple[str, str], Any] = {}


def observe_requests(app: ASGIApp, latency: LatencyWindow) -> ASGIApp:
    """Request id (bound into structlog's context and returned as ``X-Request-ID``), Prometheus counts and
    duration, and the latency window. SSE streams last minutes by design and are left out of both timings, as are
    ``/metrics`` and static files (and ``/health`` from the window); a 404 page is not a route."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        incoming = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value
                break
        request_id = incoming.decode("latin-1") if _SAFE_REQUEST_ID.match(incoming) else secrets.token_hex(8)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        header = (b"x-request-id", request_id.encode("latin-1"))
        path = scope.get("path", "")
        timed = not path.endswith("/events")
        metered = timed and not path.startswith(_METRIC_SKIP)
        windowed = timed and not path.startswith(_SKIP_PATHS)
        method = scope.get("method", "GET")
        template = scope.get("path_template") or path
        status = 500

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        gauge = None
        if metered:
            gauge = _in_progress.get((method, template))
            if gauge is None:
                gauge = _in_progress[(method, template)] = IN_PROGRESS.labels(method, template, "200", APP_NAME)
            gauge.inc()
        start = time.perf_counter()
        try:
            await app(scope, receive, observed_send)
        finally:
            seconds = time.perf_counter() - start
            if gauge is not None:
                gauge.dec()
                metrics = _route_metrics.get((method, template, status))
                if metrics is None:
                    metrics = _route_metrics[(method, template, status)] = _RouteMetrics(method, template, status)
                metrics.count.inc()
                metrics.seconds.observe(seconds)
                if metrics.errors is not None:
                    metrics.errors.inc()
            if windowed and status != 404:  # unmatched paths would add one route per probe
                latency.record(f"{method} {template}", seconds)

    return middleware


class RouteLatency(msgspec.Struct, frozen=True):
    route: str
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    per_minute: list[int]  # requests in each of the last 60 minutes, oldest first
    p95_per_minute: list[float]  # p95 in each minute (0 when idle), oldest first


def _percentile(counts: Mapping[int, int], q: float) -> float:
    total = sum(counts.values())
    if total == 0:
        return 0.0
    rank = max(1, math.ceil(q * total))
    running = 0
    for bucket in sorted(counts):
        running += counts[bucket]
        if running >= rank:
            return round(bucket_edge_ms(bucket), 2)
    return round(bucket_edge_ms(max(counts)), 2)


async def last_hour(redis: Redis, now: float | None = None, minutes: int = 60) -> list[RouteLatency]:
    """Per route: p50/p95/p99 over the last hour and the per-minute series for a chart, busiest route first."""
    current = int((now if now is not None else time.time()) // 60)
    window = list(range(current - minutes + 1, current + 1))
    async with redis.pipeline(transaction=False) as pipe:
        for minute in window:
            pipe.hgetall(WINDOW_KEY.format(minute=minute))
        hashes = await pipe.execute()
    per_route: dict[str, list[Tally[int]]] = {}
    for i, fields in enumerate(hashes):
        for field, count in fields.items():
            route, _, bucket = (field.decode() if isinstance(field, bytes) else field).rpartition("|")
            per_route.setdefault(route, [Tally() for _ in window])[i][int(bucket)] += int(count)
    result = []
    for route, minutes_counts in per_route.items():
        merged: Tally[int] = Tally()
        for counts in minutes_counts:
            merged.update(counts)
        result.append(
            RouteLatency(
                route=route,
                requests=sum(merged.values()),
                p50_ms=_percentile(merged, 0.50),
                p95_ms=_percentile(merged, 0.95),
                p99_ms=_percentile(merged, 0.99),
                per_minute=[sum(c.values()) for c in minutes_counts],
                p95_per_minute=[_percentile(c, 0.95) for c in minutes_counts],
            )
        )
    return sorted(result, key=lambda r: -r.requests)


def forget_this_process() -> None:
    """On a clean shutdown: this process's live gauges (pool, SSE) stop counting in the multiprocess sum."""
    if settings().metrics_dir:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

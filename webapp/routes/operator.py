"""``/operator``: how the service is doing, for operators only (everyone else, signed in or not, gets a 404).

Server-rendered with small inline SVG charts (no chart library): per-route p50/p95/p99 over the last hour from the
Redis latency window, the slowest statements from ``pg_stat_statements``, cache hit ratio per tier, queue depth and
lag, open live-progress streams and the connection pool.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.exceptions import NotFoundException

from core.db.instruments import record_pool_stats
from core.db.pool import unscoped
from webapp.auth import signed_in_supplier_id
from webapp.observability import (
    LatencyWindow,
    QueueStats,
    RouteLatency,
    last_hour,
    metric_families,
    queue_stats,
    sample_sum,
)
from webapp.queries import operators as q
from webapp.rendering import page
from webapp.state import Resources

CHART_W, CHART_H = 240, 40


class CacheTier(msgspec.Struct, frozen=True):
    tier: str
    hits: int
    misses: int

    @property
    def ratio(self) -> float | None:
        total = self.hits + self.misses
        return self.hits / total if total else None


class Chart(msgspec.Struct, frozen=True):
    """An SVG sparkline: bars for requests per minute, a line for p95 per minute (each scaled to its own max)."""

    bars: list[tuple[float, float, float]]  # x, y, height
    line: str  # polyline points
    bar_w: float


def chart(route: RouteLatency) -> Chart:
    n = max(1, len(route.per_minute))
    step = CHART_W / n
    top_count = max(route.per_minute, default=0) or 1
    top_p95 = max(route.p95_per_minute, default=0.0) or 1.0
    bars = []
    for i, count in enumerate(route.per_minute):
        h = round(CHART_H * count / top_count, 1)
        bars.append((round(i * step, 1), round(CHART_H - h, 1), h))
    points = " ".join(
        f"{round(i * step + step / 2, 1)},{round(CHART_H - CHART_H * p / top_p95, 1)}"
        for i, p in enumerate(route.p95_per_minute)
        if p > 0
    )
    return Chart(bars, points, round(max(step - 1, 1), 1))


def cache_tiers(families: dict[str, Any]) -> list[CacheTier]:
    tiers = []
    for tier in ("memory", "redis"):
        hits = sample_sum(families, "wedsync_cache_lookups", "_total", tier=tier, result="hit")
        misses = sample_sum(families, "wedsync_cache_lookups", "_total", tier=tier, result="miss")
        tiers.append(CacheTier(tier, int(hits), int(misses)))
    return tiers


@get("/operator", name="operator_page", cache=False, include_in_schema=False)
async def show_operator(request: Request[Any, Any, Any], res: Resources) -> Response[str]:
    supplier_id = signed_in_supplier_id(request)
    if supplier_id is None:
        raise NotFoundException()
    async with unscoped(res.pool) as conn:
        if not await q.is_operator(conn, supplier_id):
            raise NotFoundException()
        slowest = await q.slowest_queries(conn)
    latency: LatencyWindow = request.app.state["latency"]
    await latency.flush()  # this process's last few seconds too
    routes = await last_hour(res.redis)
    queues: list[QueueStats] = []
    queue_error = False
    try:
        queues = await queue_stats(res.redis)
    except Exception:  # shown as "could not read" on the page
        queue_error = True
    families = metric_families()
    pool = record_pool_stats(res.pool)
    return page(
        request,
        "operator/index.html",
        routes=[(r, chart(r)) for r in routes],
        chart_w=CHART_W,
        chart_h=CHART_H,
        slowest=slowest,
        tiers=cache_tiers(families),
        queues=queues,
        queue_error=queue_error,
        sse=int(sample_sum(families, "wedsync_sse_connections")),
        pool=pool,
        headers={"cache-control": "no-store"},
    )

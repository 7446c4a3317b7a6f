"""``poll_304_p95_ms`` (DESIGN.md §5): 200 phones polling a job that is not changing, with If-None-Match.

One web process (``wedsync web``) against embedded PostgreSQL and Valkey (or ``DATABASE_URL`` / ``REDIS_URL``),
25 suppliers signed up over HTTP, each with a running job. 200 pollers on keep-alive loopback connections send
conditional GETs to ``/jobs/{id}/progress`` back to back for ``BENCH_POLL_SECONDS`` (10 s). The value is the
p95 latency measured by the client on loopback (it includes the client's own event loop, so it is an upper
bound on server time); the detail has 304s per second and the server's own p95 bucket from ``/metrics``.

Run on its own with ``python -m bench.poll``.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.imports import emit, services
from bench.sse import Tenant, Web, raise_nofile, sign_up_tenants, web_process

POLLERS = 200
SUPPLIERS = 25
SECONDS = float(os.environ.get("BENCH_POLL_SECONDS", "10"))
_BUCKET = re.compile(r"^wedsync_request_duration_seconds_bucket\{(?P<labels>.*)\} (?P<count>[0-9.e+]+)$", re.MULTILINE)


def _progress_buckets(metrics: str) -> dict[float, float]:
    """Cumulative counts per upper bound for 304 answers of the poll route, from Prometheus text."""
    out: dict[float, float] = {}
    for m in _BUCKET.finditer(metrics):
        labels = m.group("labels")
        if "progress" not in labels or 'status_code="304"' not in labels:
            continue
        le = re.search(r'le="([^"]+)"', labels)
        if le:
            bound = float("inf") if le.group(1) == "+Inf" else float(le.group(1))
            out[bound] = out.get(bound, 0.0) + float(m.group("count"))
    return out


def _server_p95_ms(before: dict[float, float], after: dict[float, float]) -> float | None:
    delta = {b: after.get(b, 0.0) - before.get(b, 0.0) for b in after}
    total = delta.get(float("inf"), 0.0)
    if not total:
        return None
    for bound in sorted(delta):
        if delta[bound] >= 0.95 * total:
            return bound * 1000
    return None


async def _poller(port: int, tenant: Tenant, etag: str, until: float, latencies: list[float], other: list[int]) -> None:
    """Back-to-back conditional GETs on one keep-alive connection; a reset (the server drops the connection
    after some errors) is counted as status 0 and the poller reconnects."""
    request = (
        f"GET /jobs/{tenant.job_id}/progress HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {tenant.cookie}\r\n"
        f"If-None-Match: {etag}\r\n\r\n"
    ).encode()
    while time.perf_counter() < until:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < until:
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                if length and int(length.group(1)):
                    await reader.readexactly(int(length.group(1)))
                if status == 304:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    other.append(status)
                if b"connection: close" in head.lower():
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            other.append(0)
        finally:
            writer.close()


async def run_async(web: Web, tenants: list[Tenant]) -> None:
    etags = {}
    async with httpx.AsyncClient(base_url=web.url) as client:
        for t in tenants:
            first = await client.get(f"/jobs/{t.job_id}/progress", headers={"cookie": t.cookie})
            assert first.status_code == 200, first.status_code
            etags[t.job_id] = first.headers["etag"]
        before = _progress_buckets((await client.get("/metrics")).text)
        latencies: list[float] = []
        other: list[int] = []
        started = time.perf_counter()
        until = started + SECONDS
        await asyncio.gather(*(
            _poller(web.port, t, etags[t.job_id], until, latencies, other)
            for t in (tenants[i % len(tenants)] for i in range(POLLERS))
        ))  # fmt: skip
        elapsed = time.perf_counter() - started
        after = _progress_buckets((await client.get("/metrics")).text)
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2) if ordered else float("nan")

    emit(
        "poll_304_p95_ms", pct(0.95), "ms", "< 20", measured="client side, loopback, 200 pollers back to back",
        rps_304=round(len(latencies) / elapsed, 1), responses_304=len(latencies),
        other_statuses={str(code): other.count(code) for code in sorted(set(other))},
        p50=round(statistics.median(ordered), 2) if ordered else None, p99=pct(0.99), seconds=round(elapsed, 1),
        pollers=POLLERS, server_p95_ms_bucket=_server_p95_ms(before, after),
    )  # fmt: skip


def run(database_url: str, redis_url: str, tmp: Path) -> None:
    raise_nofile(POLLERS * 2 + 1_000)
    with web_process(database_url, redis_url, tmp) as web:
        tenants = sign_up_tenants(web, database_url, SUPPLIERS)
        asyncio.run(run_async(web, tenants))


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="wedsync-bench-poll-") as tmpdir:
        tmp = Path(tmpdir)
        with services(tmp) as (database_url, redis_url):
            from webapp.db.migrate import migrate

            migrate(database_url)
            run(database_url, redis_url, tmp)
    return 0


__all__ = ["main", "run"]

if __name__ == "__main__":
    sys.exit(main())

"""``poll_304_p95_ms`` (DESIGN.md §5): 200 phones polling a job that is not changing, with If-None-Match.

One web process (``wedsync web``) against embedded PostgreSQL and Valkey (or ``DATABASE_URL`` / ``REDIS_URL``),
25 suppliers signed up over HTTP, each with a running job, 200 phones on keep-alive loopback connections.

Two phases:
- **as phones poll** (the value): each phone sends a conditional GET to ``/jobs/{id}/progress`` every 2 s, the
  fastest interval ``static/live.js`` uses (4g), with random phases, for ``BENCH_POLL_SECONDS`` (10 s). An open
  loop: a slow answer does not slow the arrivals, so queueing shows up in the latency as it would for real phones.
- **capacity** (detail): the same 200 connections back to back with no pause. Latency there is only
  concurrency / throughput (Little's law), so it reports 304s per second, not a latency budget.

Latencies are measured by the client on loopback (they include the client's own event loop, so they are an upper
bound on server time); the detail also has the server's own p95 bucket from ``/metrics``.

Run on its own with ``python -m bench poll``.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

import httpx

from bench.imports import emit, migrated_services
from bench.load import server_p95_ms
from bench.sse import Tenant, Web, raise_nofile, sign_up_tenants, web_process

POLLERS = 200
SUPPLIERS = 25
SECONDS = float(os.environ.get("BENCH_POLL_SECONDS", "10"))
PHONE_INTERVAL_S = 2.0  # live.js on 4g


def _is_progress_304(labels: str) -> bool:
    return "progress" in labels and 'status_code="304"' in labels


async def _poller(
    port: int,
    tenant: Tenant,
    etag: str,
    until: float,
    latencies: list[float],
    other: list[int],
    interval_s: float = 0.0,
) -> None:
    """Conditional GETs on one keep-alive connection, every ``interval_s`` (0: back to back); a reset (the
    server drops the connection after some errors) is counted as status 0 and the poller reconnects."""
    request = (
        f"GET /jobs/{tenant.job_id}/progress HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {tenant.cookie}\r\n"
        f"If-None-Match: {etag}\r\n\r\n"
    ).encode()
    next_at = time.perf_counter() + random.uniform(0, interval_s)
    while time.perf_counter() < until:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < until:
                if interval_s:
                    await asyncio.sleep(max(0.0, next_at - time.perf_counter()))  # the phone's timer
                    next_at += interval_s
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


def _pct(ordered: list[float], q: float) -> float:
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2) if ordered else float("nan")


async def _phase(
    web: Web, tenants: list[Tenant], etags: dict[int, str], interval_s: float
) -> tuple[list[float], list[int], float]:
    latencies: list[float] = []
    other: list[int] = []
    started = time.perf_counter()
    until = started + SECONDS
    await asyncio.gather(*(
        _poller(web.port, t, etags[t.job_id], until, latencies, other, interval_s)
        for t in (tenants[i % len(tenants)] for i in range(POLLERS))
    ))  # fmt: skip
    return sorted(latencies), other, time.perf_counter() - started


async def run_async(web: Web, tenants: list[Tenant]) -> None:
    etags = {}
    async with httpx.AsyncClient(base_url=web.url) as client:
        for t in tenants:
            first = await client.get(f"/jobs/{t.job_id}/progress", headers={"cookie": t.cookie})
            assert first.status_code == 200, first.status_code
            etags[t.job_id] = first.headers["etag"]
        before = (await client.get("/metrics")).text
        phones, phone_other, phone_s = await _phase(web, tenants, etags, PHONE_INTERVAL_S)
        after = (await client.get("/metrics")).text
        flat_out, flat_other, flat_s = await _phase(web, tenants, etags, 0.0)

    def statuses(other: list[int]) -> dict[str, int]:
        return {str(code): other.count(code) for code in sorted(set(other))}

    emit(
        "poll_304_p95_ms", _pct(phones, 0.95), "ms", "< 20",
        measured=f"client side, loopback, {POLLERS} phones each polling every {PHONE_INTERVAL_S:g} s",
        p50=round(statistics.median(phones), 2) if phones else None, p99=_pct(phones, 0.99),
        responses_304=len(phones), rps_304=round(len(phones) / phone_s, 1), other_statuses=statuses(phone_other),
        seconds=round(phone_s, 1), server_p95_ms_bucket=server_p95_ms(before, after, _is_progress_304),
        capacity={
            "rps_304": round(len(flat_out) / flat_s, 1), "p50_ms": _pct(flat_out, 0.5), "p95_ms": _pct(flat_out, 0.95),
            "other_statuses": statuses(flat_other), "note": f"{POLLERS} connections back to back, one web process",
        },
    )  # fmt: skip


def run(database_url: str, redis_url: str, tmp: Path) -> None:
    raise_nofile(POLLERS * 2 + 1_000)
    with web_process(database_url, redis_url, tmp) as web:
        tenants = sign_up_tenants(web, database_url, SUPPLIERS)
        asyncio.run(run_async(web, tenants))


def main() -> int:
    with migrated_services("poll") as (tmp, database_url, redis_url):
        run(database_url, redis_url, tmp)
    return 0


__all__ = ["main", "run"]

if __name__ == "__main__":
    sys.exit(main())

"""Live progress benchmarks: ``sse_kb_per_conn`` and ``sse_5k_p99_ms`` (DESIGN.md §5), plus a leak check.

One web process (``wedsync web``, a subprocess) against embedded PostgreSQL and Valkey started here (or
``DATABASE_URL`` / ``REDIS_URL``). 5,000 SSE connections on loopback from one asyncio client (plain
``asyncio.Protocol`` sockets: httpx costs far more per connection at this count), spread over 25 suppliers
who signed up over HTTP (the per-supplier stream cap is 300), each watching one running job. Then:

- RSS of the web process before and after the connections are open -> KB per connection;
- rounds of one progress event per supplier published through ``jobs.progress.Publisher`` (as a worker
  does), each reaching all 5,000 connections -> publish-to-client latency p50 / p99;
- 10,000 connect / read the first event / disconnect cycles -> RSS growth (in the detail).

``BENCH_SCALE`` (e.g. 0.05) shrinks the counts for a smoke run. Run on its own with ``python -m bench.sse``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import psycopg
import redis

from bench.imports import emit, services
from bench.server import running_web

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
CONNECTIONS = max(250, int(5_000 * SCALE))
SUPPLIERS = 25  # 200 streams each at full size, under webapp.live.MAX_STREAMS_PER_SUPPLIER (300)
LEAK_CYCLES = max(500, int(10_000 * SCALE))
ROUNDS = 10
OPEN_CONCURRENCY = 20  # the web app's Redis pool (redis-py 8: 100, raises when exhausted) is the limit, see report
_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')
_MARK = re.compile(rb"bench-(\d+)")


@dataclass
class Tenant:
    supplier_id: int
    job_id: int
    cookie: str  # the Cookie header a signed-in phone sends


@dataclass
class Web:
    url: str
    port: int
    process: subprocess.Popen[bytes]

    def rss_kb(self) -> int:
        return int(psutil.Process(self.process.pid).memory_info().rss // 1024)


def raise_nofile(wanted: int = 20_000) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@contextlib.contextmanager
def web_process(database_url: str, redis_url: str, tmp: Path) -> Iterator[Web]:
    """``wedsync web`` on a free loopback port (it inherits our raised file limit); its log lines go to stderr,
    stdout carries only the JSON lines."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url, REDIS_URL=redis_url, WEDSYNC_VAR_DIR=str(tmp / "var"), LOG_LEVEL="WARNING",
        LOGIN_ATTEMPTS_PER_MINUTE="1000", COOKIE_SECURE="0", PYTHONUNBUFFERED="1",
    )  # fmt: skip
    with running_web(env, "--host", "127.0.0.1", stdout=sys.stderr, stderr=sys.stderr) as (url, port, proc):
        yield Web(url, port, proc)


def _keep(jar: dict[str, str], response: httpx.Response) -> None:
    for header in response.headers.get_list("set-cookie"):
        name, _, value = header.split(";", 1)[0].partition("=")
        jar[name.strip()] = value.strip()


def sign_up_tenants(web: Web, database_url: str, count: int) -> list[Tenant]:
    """Suppliers signed up over HTTP as a photographer would, each with one running job to watch."""
    tenants = []
    for i in range(count):
        with httpx.Client(base_url=web.url, timeout=30) as client:
            jar: dict[str, str] = {}
            form = client.get("/signup")
            _keep(jar, form)
            match = _CSRF.search(form.text)
            assert match, "signup page has no CSRF field"
            email = f"bench-live-{i}-{os.getpid()}-{time.monotonic_ns()}@example.com"
            resp = client.post(
                "/signup",
                data={
                    "_csrf_token": match.group(1),
                    "business_name": f"Bench {i}",
                    "email": email,
                    "password": "a long bench password",
                },
                headers={"cookie": "; ".join(f"{k}={v}" for k, v in jar.items())},
            )
            assert resp.status_code == 303, resp.text[:300]
            _keep(jar, resp)
            with psycopg.connect(database_url, autocommit=True) as conn:
                row = conn.execute("SELECT id FROM suppliers WHERE email = %s", [email]).fetchone()
                assert row is not None
                job = conn.execute(
                    "INSERT INTO sync_jobs (supplier_id, kind, source, status, total, message) "
                    "VALUES (%s, 'file_import', 'csv', 'running', 1000000, 'Imported 0 so far.') RETURNING id",
                    [row[0]],
                ).fetchone()
                assert job is not None
            tenants.append(Tenant(row[0], job[0], f"wedsync_session={jar['wedsync_session']}"))
    return tenants


@dataclass
class Stats:
    received: dict[int, list[tuple[int, float]]] = field(default_factory=dict)  # round -> (tenant, when)
    round_done: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0
    current: int = -1


class SSEClient(asyncio.Protocol):
    """One phone: sends the request, notes the first event (the snapshot) and every bench marker."""

    def __init__(self, request: bytes, tenant: int, stats: Stats | None) -> None:
        self.request, self.tenant, self.stats = request, tenant, stats
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.head = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.ready.done():
            self.head += data
            if not self.head.startswith(b"HTTP/1.1 200"):
                if b"\r\n" in self.head:
                    self.ready.set_result(False)
                return
            if b"event: progress" in self.head:
                self.ready.set_result(True)
            return
        if self.stats is not None and b"bench-" in data:
            for match in _MARK.finditer(data):
                n = int(match.group(1))
                seen = self.stats.received.setdefault(n, [])
                seen.append((self.tenant, now))
                if n == self.stats.current and len(seen) >= self.stats.expected:
                    self.stats.round_done.set()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_result(False)
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def sse_request(port: int, tenant: Tenant) -> bytes:
    return (
        f"GET /jobs/{tenant.job_id}/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
        f"Cookie: {tenant.cookie}\r\n\r\n"
    ).encode()


async def open_streams(
    port: int, tenants: list[Tenant], count: int, stats: Stats | None, concurrency: int = OPEN_CONCURRENCY
) -> tuple[list[SSEClient], int]:
    """Open ``count`` streams round-robin over the tenants; returns the open ones and how many were refused."""
    loop = asyncio.get_running_loop()
    limit = asyncio.Semaphore(concurrency)
    refused = 0

    async def one(i: int) -> SSEClient | None:
        nonlocal refused
        tenant_index = i % len(tenants)
        async with limit:
            _, proto = await loop.create_connection(
                lambda: SSEClient(sse_request(port, tenants[tenant_index]), tenant_index, stats), "127.0.0.1", port
            )
            ok = await asyncio.wait_for(proto.ready, 60)
        if not ok:
            refused += 1
            print("bench.sse: refused:", proto.head.split(b"\r\n", 1)[0].decode(errors="replace"), file=sys.stderr)
            proto.close()
            return None
        return proto

    opened = await asyncio.gather(*(one(i) for i in range(count)))
    return [p for p in opened if p is not None], refused


async def close_all(clients: list[SSEClient]) -> None:
    for c in clients:
        c.close()
    if clients:
        await asyncio.wait_for(asyncio.gather(*(c.closed for c in clients)), 30)


def open_slots(redis_url: str, tenants: list[Tenant]) -> int:
    from webapp.live import SSE_COUNT_KEY

    client = redis.Redis.from_url(redis_url)
    try:
        return sum(int(client.zcard(SSE_COUNT_KEY.format(t.supplier_id))) for t in tenants)
    finally:
        client.close()


async def wait_released(redis_url: str, tenants: list[Tenant], limit_s: float = 30) -> float:
    """Seconds until the server has released every stream slot (it noticed every disconnect)."""
    started = time.monotonic()
    while open_slots(redis_url, tenants):
        if time.monotonic() - started > limit_s:
            return float("inf")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def leak_check(web: Web, redis_url: str, tenants: list[Tenant]) -> dict[str, float]:
    """Connect, read the first event, disconnect: many times; RSS before and after (after a warm-up)."""

    async def cycles(n: int) -> int:
        refused = 0
        batch = OPEN_CONCURRENCY
        for start in range(0, n, batch):
            clients, bad = await open_streams(web.port, tenants, min(batch, n - start), None, batch)
            refused += bad
            await close_all(clients)
        return refused

    await cycles(max(200, LEAK_CYCLES // 10))  # warm-up: caches, pools, allocator arenas
    await wait_released(redis_url, tenants)
    before = web.rss_kb()
    started = time.monotonic()
    refused = await cycles(LEAK_CYCLES)
    elapsed = time.monotonic() - started
    released_s = await wait_released(redis_url, tenants)
    after = web.rss_kb()
    return {
        "cycles": LEAK_CYCLES, "seconds": round(elapsed, 1), "refused": refused, "rss_before_kb": before,
        "rss_after_kb": after, "growth_kb": after - before, "slots_released_s": round(released_s, 2),
    }  # fmt: skip


def publish_round(redis_url: str, tenants: list[Tenant], n: int) -> list[float]:
    """One event per supplier (each reaches that supplier's streams); returns when each was published."""
    from jobs.progress import ProgressEvent, Publisher

    publisher = Publisher(redis_url)
    sent = []
    for t in tenants:
        event = ProgressEvent(
            job_id=t.job_id, supplier_id=t.supplier_id, kind="file_import", source="csv", status="running",
            processed=(n + 1) * 2_000, total=1_000_000, message=f"Imported bench-{n}",
        )  # fmt: skip
        sent.append(time.perf_counter())
        publisher.emit(event)
    return sent


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_async(web: Web, redis_url: str, tenants: list[Tenant]) -> None:
    leak = await leak_check(web, redis_url, tenants)

    stats = Stats()
    before = web.rss_kb()
    started = time.monotonic()
    clients, refused = await open_streams(web.port, tenants, CONNECTIONS, stats)
    open_s = time.monotonic() - started
    after = web.rss_kb()
    per_conn = (after - before) / max(1, len(clients))
    emit(
        "sse_kb_per_conn", per_conn, "KB", "<= 30", connections=len(clients), refused=refused,
        rss_before_kb=before, rss_after_kb=after, open_seconds=round(open_s, 1), leak_check=leak,
    )  # fmt: skip

    latencies: list[float] = []
    missing = 0
    stats.expected = len(clients)
    per_tenant = [sum(1 for c in clients if c.tenant == i) for i in range(len(tenants))]
    for n in range(ROUNDS):
        stats.current, stats.round_done = n, asyncio.Event()
        sent = await asyncio.to_thread(publish_round, redis_url, tenants, n)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stats.round_done.wait(), 10)
        got = stats.received.get(n, [])
        missing += len(clients) - len(got)
        latencies += [(when - sent[tenant]) * 1000 for tenant, when in got]
        await asyncio.sleep(0.3)  # let the round drain before the next one (rounds are not the measure)
    emit(
        "sse_5k_p99_ms", _percentile(latencies, 0.99) if latencies else float("nan"), "ms", "< 250",
        p50=round(statistics.median(latencies), 1) if latencies else None, max=round(max(latencies, default=0), 1),
        connections=len(clients), rounds=ROUNDS, deliveries=len(latencies), missing=missing,
        streams_per_supplier=max(per_tenant), suppliers=len(tenants),
    )  # fmt: skip
    await close_all(clients)


def run(database_url: str, redis_url: str, tmp: Path) -> None:
    raise_nofile(CONNECTIONS * 2 + 2_000)
    with web_process(database_url, redis_url, tmp) as web:
        tenants = sign_up_tenants(web, database_url, SUPPLIERS)
        asyncio.run(run_async(web, redis_url, tenants))


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="wedsync-bench-sse-") as tmpdir:
        tmp = Path(tmpdir)
        with services(tmp) as (database_url, redis_url):
            from webapp.db.migrate import migrate

            migrate(database_url)
            run(database_url, redis_url, tmp)
    return 0


__all__ = ["Tenant", "Web", "main", "raise_nofile", "run", "sign_up_tenants", "web_process"]

if __name__ == "__main__":
    sys.exit(main())

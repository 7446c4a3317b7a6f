"""Live progress benchmarks: ``sse_kb_per_conn`` and ``sse_5k_p99_ms`` (DESIGN.md §5), plus a leak check.

One web process (``wedsync web``, a subprocess) against embedded PostgreSQL and Valkey started here (or
``DATABASE_URL`` / ``REDIS_URL``). 5,000 SSE connections on loopback, spread over 25 suppliers who signed up
over HTTP (the per-supplier stream cap is 300), each watching one running job. The phones' side is two client
processes (uvloop, plain ``asyncio.Protocol`` sockets: httpx costs far more per connection at this count),
each holding half the streams, so that reading 5,000 sockets on this 2-core machine is not what is measured;
each reports its CPU time per round next to the web process's. Then:

- RSS of the web process before and after the connections are open -> KB per connection;
- rounds of one progress event per supplier published through ``core.progress.Publisher`` (as a worker
  does), each reaching all 5,000 connections -> latency from the start of the worker's publish to the moment
  each phone's socket has the event's bytes (Redis XADD + PUBLISH, the web process's pub/sub read, rendering,
  fan-out and write, loopback, the client's read), p50 / p99 over every delivery of every round;
- 10,000 connect / read the first event / disconnect cycles -> RSS growth (in the detail), then 10,000 more
  (``growth_next_cycles_kb``: a leak keeps growing, a pool filling up once does not).

``BENCH_SCALE`` (e.g. 0.05) shrinks the counts for a smoke run. Run on its own with ``python -m bench.sse``.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import httpx
import psutil
import psycopg
import redis
import uvloop

from bench.imports import emit, migrated_services
from bench.server import running_web
from core.progress import ProgressEvent, Publisher

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
CONNECTIONS = max(250, int(5_000 * SCALE))
SUPPLIERS = 25  # 200 streams each at full size, under webapp.live.MAX_STREAMS_PER_SUPPLIER (300)
LEAK_CYCLES = max(500, int(10_000 * SCALE))
ROUNDS = 10
OPEN_CONCURRENCY = 20  # opening streams at once, per client process (each open is a session read and a slot claim)
CLIENT_PROCESSES = 2
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
        LOGIN_ATTEMPTS_PER_MINUTE="1000", SIGNUP_ATTEMPTS_PER_MINUTE="1000", COOKIE_SECURE="0", PYTHONUNBUFFERED="1",
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


class SSEClient(asyncio.Protocol):
    """One phone: sends the request, notes the first event (the snapshot) and when each bench marker arrives."""

    def __init__(self, request: bytes, tenant: int, stats: Stats | None) -> None:
        self.request, self.tenant, self.stats = request, tenant, stats
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[bool] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.head = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)  # uvloop's transports are not its subclasses
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()  # CLOCK_MONOTONIC: comparable with the publisher's, in another process
        if not self.ready.done():
            self.head += data
            if not self.head.startswith(b"HTTP/1.1 200"):
                if b"\r\n" in self.head:
                    self.ready.set_result(False)
                return
            if b"event: progress" in self.head:
                self.ready.set_result(True)
                self.head = b""
            return
        if self.stats is not None and b"bench-" in data:
            for match in _MARK.finditer(data):
                self.stats.seen(int(match.group(1)), self.tenant, now)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_result(False)
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


@dataclass
class Stats:
    received: dict[int, list[tuple[int, float]]] = field(default_factory=dict)  # round -> (tenant, when)
    expected: int = 0
    current: int = -1
    round_done: asyncio.Event = field(default_factory=asyncio.Event)

    def seen(self, n: int, tenant: int, when: float) -> None:
        got = self.received.setdefault(n, [])
        got.append((tenant, when))
        if n == self.current and len(got) >= self.expected:
            self.round_done.set()


def sse_request(port: int, tenant: Tenant) -> bytes:
    return (
        f"GET /jobs/{tenant.job_id}/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
        f"Cookie: {tenant.cookie}\r\n\r\n"
    ).encode()


async def open_streams(
    port: int, tenants: list[Tenant], indexes: range, stats: Stats | None, concurrency: int = OPEN_CONCURRENCY
) -> tuple[list[SSEClient], int]:
    """Stream ``i`` for each i in ``indexes`` watches tenant ``i % len(tenants)``; returns the open ones and how
    many were refused."""
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

    opened = await asyncio.gather(*(one(i) for i in indexes))
    return [p for p in opened if p is not None], refused


async def close_all(clients: list[SSEClient]) -> None:
    for c in clients:
        c.close()
    if clients:
        await asyncio.wait_for(asyncio.gather(*(c.closed for c in clients)), 30)


# A client process: the phones' side, driven by the bench over a pipe. Two of them (one core's worth each at
# most) so that reading 5,000 sockets is never what the latency figure measures; each reports its CPU time.


def client_process(conn: Connection, port: int, tenants: list[Tenant], first: int, step: int) -> None:
    """Streams ``first, first + step, ...`` of the bench's numbering (so the processes interleave tenants)."""
    raise_nofile(CONNECTIONS + 2_000)
    uvloop.run(_client_main(conn, port, tenants, first, step))


async def _client_main(conn: Connection, port: int, tenants: list[Tenant], first: int, step: int) -> None:
    stats = Stats()
    clients: list[SSEClient] = []
    armed_cpu = 0.0
    while True:
        command, *args = await asyncio.to_thread(conn.recv)
        if command == "open":
            (count,) = args
            clients, refused = await open_streams(port, tenants, range(first, count, step), stats)
            stats.expected = len(clients)
            conn.send((len(clients), refused, [c.tenant for c in clients]))
        elif command == "cycles":  # connect, read the first event, disconnect
            (count,) = args
            refused = 0
            for start in range(first, count, OPEN_CONCURRENCY * step):
                indexes = range(start, min(count, start + OPEN_CONCURRENCY * step), step)
                batch, bad = await open_streams(port, tenants, indexes, None)
                refused += bad
                await close_all(batch)
            conn.send(refused)
        elif command == "arm":  # the next round's marker: set before the bench publishes it
            stats.current, stats.round_done = args[0], asyncio.Event()
            armed_cpu = time.process_time()
            conn.send(None)
        elif command == "collect":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stats.round_done.wait(), 10)
            conn.send((stats.received.pop(stats.current, []), time.process_time() - armed_cpu))
        elif command == "close":
            await close_all(clients)
            clients = []
            conn.send(None)
        elif command == "exit":
            return


class Phones:
    """The client processes, each asked the same command and answering for its share of the streams."""

    def __init__(self, port: int, tenants: list[Tenant], processes: int = CLIENT_PROCESSES) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._procs = []
        for first in range(processes):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=client_process, args=(theirs, port, tenants, first, processes), daemon=True)
            proc.start()
            self._pipes.append(ours)
            self._procs.append(proc)

    def ask(self, *command: object) -> list[Any]:
        for pipe in self._pipes:
            pipe.send(command)
        return [pipe.recv() for pipe in self._pipes]

    def stop(self) -> None:
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.send(("exit",))
        for proc in self._procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()


@contextlib.contextmanager
def phones(port: int, tenants: list[Tenant]) -> Iterator[Phones]:
    p = Phones(port, tenants)
    try:
        yield p
    finally:
        p.stop()


def open_slots(redis_url: str, tenants: list[Tenant]) -> int:
    from webapp.live import SSE_COUNT_KEY

    client = redis.Redis.from_url(redis_url)
    try:
        return sum(int(client.zcard(SSE_COUNT_KEY.format(t.supplier_id))) for t in tenants)
    finally:
        client.close()


def wait_released(redis_url: str, tenants: list[Tenant], limit_s: float = 30) -> float:
    """Seconds until the server has released every stream slot (it noticed every disconnect)."""
    started = time.monotonic()
    while open_slots(redis_url, tenants):
        if time.monotonic() - started > limit_s:
            return float("inf")
        time.sleep(0.05)  # polling Redis for a condition another process brings about
    return time.monotonic() - started


def leak_check(web: Web, redis_url: str, tenants: list[Tenant], clients: Phones) -> dict[str, float]:
    """Connect, read the first event, disconnect: many times; RSS before and after (after a warm-up)."""
    clients.ask("cycles", max(200, LEAK_CYCLES // 10))  # warm-up: caches, pools, allocator arenas
    wait_released(redis_url, tenants)
    before = web.rss_kb()
    started = time.monotonic()
    refused = sum(clients.ask("cycles", LEAK_CYCLES))
    elapsed = time.monotonic() - started
    released_s = wait_released(redis_url, tenants)
    after = web.rss_kb()
    # As many cycles again: a leak grows with every batch; pools and allocator arenas filling up once do not.
    refused += sum(clients.ask("cycles", LEAK_CYCLES))
    wait_released(redis_url, tenants)
    again = web.rss_kb()
    return {
        "cycles": LEAK_CYCLES, "seconds": round(elapsed, 1), "refused": refused, "rss_before_kb": before,
        "rss_after_kb": after, "growth_kb": after - before, "slots_released_s": round(released_s, 2),
        "growth_next_cycles_kb": again - after,
    }  # fmt: skip


def publish_round(publisher: Publisher, tenants: list[Tenant], n: int) -> list[float]:
    """One event per supplier (each reaches that supplier's streams), as a worker publishes it; returns when
    each publish started."""
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


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def measure(web: Web, redis_url: str, tenants: list[Tenant]) -> None:
    with phones(web.port, tenants) as clients:
        leak = leak_check(web, redis_url, tenants, clients)

        before = web.rss_kb()
        started = time.monotonic()
        opened = clients.ask("open", CONNECTIONS)
        open_s = time.monotonic() - started
        after = web.rss_kb()
        count = sum(o[0] for o in opened)
        per_conn = (after - before) / max(1, count)
        emit(
            "sse_kb_per_conn", per_conn, "KB", "<= 30", connections=count, refused=sum(o[1] for o in opened),
            rss_before_kb=before, rss_after_kb=after, open_seconds=round(open_s, 1), leak_check=leak,
        )  # fmt: skip

        watched = [tenant for o in opened for tenant in o[2]]
        publisher = Publisher(redis_url)
        server = psutil.Process(web.process.pid)
        latencies: list[float] = []
        round_max: list[float] = []
        missing, client_cpu, server_cpu = 0, 0.0, 0.0
        for n in range(ROUNDS):
            clients.ask("arm", n)
            server_before = _cpu_s(server)
            sent = publish_round(publisher, tenants, n)
            answers = clients.ask("collect")
            server_cpu += _cpu_s(server) - server_before
            client_cpu = max(client_cpu, *(cpu for _, cpu in answers))
            got = [seen for received, _ in answers for seen in received]
            missing += count - len(got)
            this_round = [(when - sent[tenant]) * 1000 for tenant, when in got]
            latencies += this_round
            round_max.append(round(max(this_round, default=float("nan")), 1))
            time.sleep(0.3)  # let the round drain before the next one (rounds are not the measure)
        emit(
            "sse_5k_p99_ms", _percentile(latencies, 0.99) if latencies else float("nan"), "ms", "< 250",
            p50=round(statistics.median(latencies), 1) if latencies else None, max=round(max(latencies, default=0), 1),
            measures="worker Publisher.emit -> event bytes read by each phone's socket, every stream, every round",
            round_max_ms=round_max, connections=count, rounds=ROUNDS, deliveries=len(latencies), missing=missing,
            streams_per_supplier=max(watched.count(i) for i in range(len(tenants))), suppliers=len(tenants),
            server_cpu_ms_per_round=round(server_cpu * 1000 / ROUNDS, 1),
            client_cpu_ms_per_round_max=round(client_cpu * 1000, 1), client_processes=CLIENT_PROCESSES,
        )  # fmt: skip
        clients.ask("close")


def run(database_url: str, redis_url: str, tmp: Path) -> None:
    raise_nofile(CONNECTIONS * 2 + 2_000)
    with web_process(database_url, redis_url, tmp) as web:
        tenants = sign_up_tenants(web, database_url, SUPPLIERS)
        measure(web, redis_url, tenants)


def main() -> int:
    with migrated_services("sse") as (tmp, database_url, redis_url):
        run(database_url, redis_url, tmp)
    return 0


__all__ = ["Tenant", "Web", "main", "raise_nofile", "run", "sign_up_tenants", "web_process"]

if __name__ == "__main__":
    sys.exit(main())

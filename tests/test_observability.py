"""Metrics, readiness and the operator page, against a web server and a worker that share a Prometheus multiprocess
directory, as ``wedsync run`` sets them up. They get a Valkey of their own so the session's worker cannot take
this module's jobs and the queue depths seen here are exactly the ones these tests create."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from core.metrics import EVENT_LOOP_LAG
from core.queue import QUEUES
from tests.fixtures import ROOT, Account, Server, Services, signup, start_web, stop_process, wait_for, wait_until
from webapp.observability import LatencyWindow, RouteLatency, last_hour, watch_event_loop


class Stack:
    def __init__(self, web: Server, worker: subprocess.Popen[bytes], redis_url: str, multiproc: Path) -> None:
        self.web, self.worker, self.redis_url, self.multiproc = web, worker, redis_url, multiproc

    def metrics(self) -> str:
        resp = httpx.get(self.web.url + "/metrics")
        assert resp.status_code == 200
        return resp.text


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text (labels must all match), or None when absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0])) if "{" in line else {}
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.fixture(scope="module")
def stack(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from core.embedded import EmbeddedValkey

    root = tmp_path_factory.mktemp("obs")
    valkey = EmbeddedValkey(root / "valkey")
    valkey.start()
    multiproc = root / "prom"
    multiproc.mkdir()
    env = {"REDIS_URL": valkey.url, "PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
    web = start_web(services, **env)
    worker = subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", "worker", "--processes", "1", "--threads", "2"],
        env=services.env(**env),
        cwd=ROOT,
    )
    from core.queue import HEARTBEAT_KEY

    client = redis.Redis.from_url(valkey.url)
    wait_for(lambda: client.zcard(HEARTBEAT_KEY) > 0, 60, "the worker's first heartbeat")
    try:
        yield Stack(web, worker, valkey.url, multiproc)
    finally:
        stop_process(worker)
        stop_process(web.process)
        valkey.stop()


@pytest.fixture
def member(stack: Stack, services: Services) -> Iterator[Account]:
    acct = signup(stack.web.url, services.database_url)
    yield acct
    acct.client.close()


def send_ping(redis_url: str, services: Services, supplier_id: int, *, age_s: float = 0, queue: str = "default") -> int:
    """A real ping job: a job row, then its message on the queue (optionally back-dated, to look stuck)."""
    with psycopg.connect(services.database_url) as conn:
        conn.execute("SELECT set_config('app.supplier_id', %s, true)", [str(supplier_id)])
        row = conn.execute(
            "INSERT INTO sync_jobs (supplier_id, kind, source) VALUES (%s, 'ping', %s) RETURNING id",
            [supplier_id, f"obs-{uuid.uuid4().hex[:6]}"],
        ).fetchone()
    assert row is not None
    broker = RedisBroker(url=redis_url, namespace="wedsync")  # type: ignore[no-untyped-call]
    try:
        broker.declare_queue(queue)
        message = Message(
            queue_name=queue,
            actor_name="ping",
            args=(supplier_id, row[0]),
            kwargs={},
            options={},
            message_timestamp=int((time.time() - age_s) * 1000),
        )
        broker.enqueue(message)
    finally:
        broker.close()
    return int(row[0])


def test_queue_names_match_the_actors() -> None:
    import jobs.actors  # noqa: F401
    from jobs.broker import broker

    declared = {q for q in broker.get_declared_queues() if not q.endswith((".DQ", ".XQ"))}
    assert declared == set(QUEUES)


def test_metrics_from_web_and_worker_in_multiprocess_mode(stack: Stack, services: Services, member: Account) -> None:
    assert member.client.get("/clients/").status_code == 200
    job_id = send_ping(stack.redis_url, services, member.supplier_id)

    def job_counted() -> str | None:
        text = stack.metrics()
        count = metric(text, "wedsync_job_duration_seconds_count", actor="ping", outcome="ok")
        return text if count and count >= 1 else None

    text = wait_for(job_counted, 30, "the worker's job duration in the web process's /metrics")
    with psycopg.connect(services.database_url) as conn:
        status = conn.execute("SELECT status FROM sync_jobs WHERE id = %s", [job_id]).fetchone()
    assert status == ("succeeded",)
    # Files from more than one process: the web process and the worker's child.
    assert len({p.name.rsplit("_", 1)[-1] for p in stack.multiproc.glob("*.db")}) >= 2
    assert (metric(text, "wedsync_db_query_seconds_count", statement="SELECT", role="web") or 0) > 0
    assert (metric(text, "wedsync_db_query_seconds_count", statement="UPDATE", role="worker") or 0) >= 1
    assert 'path="/clients"' in text
    assert "wedsync_request_duration_seconds_bucket" in text
    assert (metric(text, "wedsync_db_pool_connections", pool="web", state="size") or 0) >= 1
    assert (metric(text, "wedsync_db_pool_connections", pool="worker", state="size") or 0) >= 1
    assert metric(text, "wedsync_queue_depth", queue="default") == 0
    assert metric(text, "wedsync_queue_depth", queue="imports") == 0


def test_sse_connections_gauge_counts_open_streams(stack: Stack, member: Account) -> None:
    def sse_value() -> float:
        return metric(stack.metrics(), "wedsync_sse_connections") or 0.0

    before = sse_value()
    cookie = member.client.get("/clients/").request.headers["cookie"]
    with (
        httpx.Client(base_url=stack.web.url, headers={"cookie": cookie}, timeout=10) as client,
        client.stream("GET", "/jobs/events") as response,
    ):
        assert response.status_code == 200
        wait_for(lambda: sse_value() == before + 1, 10, "the SSE gauge to count the open stream")
    wait_for(lambda: sse_value() == before, 10, "the SSE gauge to drop when the stream closed")


def test_latency_window_percentiles_from_redis(stack: Stack) -> None:
    """The window's arithmetic on a known distribution, through a real Redis: 90 fast, 9 slower, 1 very slow."""
    from redis.asyncio import Redis

    async def main() -> list[RouteLatency]:
        client = Redis.from_url(stack.redis_url)
        window = LatencyWindow(client)
        then = time.time() - 3 * 24 * 3600  # a minute no live request writes to
        for ms in [2.0] * 90 + [40.0] * 9 + [900.0]:
            window.record("GET /probe", ms / 1000, now=then)
        await window.flush()
        rows = await last_hour(client, now=then)
        await client.aclose()
        return rows

    probe = next(r for r in asyncio.run(main()) if r.route == "GET /probe")
    assert probe.requests == 100
    assert 2.0 <= probe.p50_ms <= 2.5  # upper edge of its bucket: at most 25 % above
    assert 40.0 <= probe.p95_ms <= 50.0
    assert 40.0 <= probe.p99_ms <= 50.0
    assert probe.p95_per_minute[-1] == probe.p95_ms  # one minute holds it all
    assert probe.per_minute[-1] == 100
    assert sum(probe.per_minute) == 100


def test_operator_page_for_operators_only(stack: Stack, services: Services, member: Account) -> None:
    for _ in range(5):
        assert member.client.get("/clients/").status_code == 200
    assert httpx.get(stack.web.url + "/operator").status_code == 404
    assert member.client.get("/operator").status_code == 404

    from webapp.queries.operators import grant_operator

    with psycopg.connect(services.database_url) as conn:
        assert grant_operator(conn, member.email)
        assert not grant_operator(conn, "nobody-" + member.email)
    resp = member.client.get("/operator")
    assert resp.status_code == 200
    html = resp.text
    row = re.search(r'<tr data-route="GET /clients">(.*?)</tr>', html, re.S)
    assert row, "the clients list is not among the routes of the last hour"
    cells = re.findall(r"<td>([\d.]+)</td>", row.group(1))
    requests, p50, p95, p99 = int(cells[0]), float(cells[1]), float(cells[2]), float(cells[3])
    assert requests >= 5
    assert 0 < p50 <= p95 <= p99
    assert "<svg" in row.group(1)
    assert "<rect" in row.group(1)
    assert 'data-testid="slowest"' in html  # pg_stat_statements is preloaded on the embedded server
    slow = re.search(r'data-testid="slowest">(.*?)</table>', html, re.S)
    assert slow
    assert "FROM clients" in slow.group(1)
    assert 'data-queue="imports"' in html
    assert 'data-testid="sse"' in html
    assert 'data-testid="cache-memory"' in html


def test_ready_reports_queue_lag_and_a_missing_worker(stack: Stack, services: Services, member: Account) -> None:
    ready = httpx.get(stack.web.url + "/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    assert ready.json()["queue"]["ok"]

    stop_process(stack.worker)  # the rest of this module runs without a worker
    send_ping(stack.redis_url, services, member.supplier_id, age_s=1200, queue="imports")
    resp = wait_for(
        lambda: (r := httpx.get(stack.web.url + "/health/ready")).status_code == 503 and r, 10, "readiness to fail"
    )
    body = resp.json()
    assert body["status"] == "not ready"
    assert body["postgres"]["ok"]
    assert body["redis"]["ok"]
    assert not body["worker"]["ok"]
    assert body["queue"]["depth"] == 1
    assert body["queue"]["oldest_age_s"] >= 1200
    assert any("20 minutes" in p for p in body["problems"])
    assert any("worker" in p for p in body["problems"])
    text = httpx.get(stack.web.url + "/metrics").text
    assert metric(text, "wedsync_queue_depth", queue="imports") == 1
    assert (metric(text, "wedsync_queue_oldest_age_seconds", queue="imports") or 0) >= 1200
    # Liveness is about this process only: it can serve pages, so a load balancer keeps it in rotation.
    live = httpx.get(stack.web.url + "/health")
    assert live.status_code == 200
    assert live.json()["degraded"] == ["worker"]


def test_a_request_holding_the_event_loop_shows_as_loop_lag(stack: Stack) -> None:
    def ticks(over: str = "") -> float:
        """Timer wake-ups recorded: all of them, or those later than ``over`` seconds (the total minus that bucket)."""
        samples = EVENT_LOOP_LAG.collect()[0].samples
        counts = {s.labels.get("le"): s.value for s in samples if s.name.endswith("_bucket")}
        return counts["+Inf"] - (counts[over] if over else 0)

    async def main() -> None:
        started = ticks()
        watch = asyncio.create_task(watch_event_loop(0.01))
        try:
            await wait_until(lambda: ticks() > started, 5, "the watch's first tick")
            before = ticks(over="0.1")
            time.sleep(0.3)  # noqa: ASYNC251 - the behaviour measured: a request's synchronous work holding the loop
            await wait_until(lambda: ticks(over="0.1") > before, 5, "the held loop to be seen")
        finally:
            watch.cancel()

    asyncio.run(main())
    # And a live web process reports it.
    assert "wedsync_event_loop_lag_seconds_bucket" in stack.metrics()

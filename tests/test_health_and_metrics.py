from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg

from core.embedded import EmbeddedValkey
from tests.fixtures import ROOT, Account, Server, Services, free_port, start_web, stop_process, wait_for
from tests.test_import_support import redis_db_url


def test_health_reports_postgres_redis_and_worker(server: Server, worker: subprocess.Popen[bytes]) -> None:
    resp = httpx.get(server.url + "/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok"
    assert body["degraded"] == []
    assert body["postgres"]["ok"]
    assert body["redis"]["ok"]
    assert body["worker"]["ok"]
    assert body["worker"]["workers"] >= 1
    assert 0 <= body["worker"]["heartbeat_age_s"] < 30
    assert resp.headers["cache-control"] == "no-store"
    assert "set-cookie" not in resp.headers


def test_health_stays_up_without_redis_or_a_worker_and_ready_does_not(services: Services, tmp_path: Path) -> None:
    """/health is for a load balancer: a web process that can serve pages answers 200 and names what is degraded.
    /health/ready is the strict check, 503 for the same outage."""
    valkey = EmbeddedValkey(tmp_path / "valkey")
    valkey.start()
    web = start_web(services, REDIS_URL=redis_db_url(valkey.url, 3))  # no worker ever beats on this Redis
    try:
        health = httpx.get(web.url + "/health")
        assert health.status_code == 200, health.text
        assert (health.json()["status"], health.json()["degraded"]) == ("degraded", ["worker"])
        assert httpx.get(web.url + "/health/ready").status_code == 503

        valkey.stop()
        health = wait_for(
            lambda: (r := httpx.get(web.url + "/health", timeout=5)).json()["degraded"] == ["redis", "worker"] and r,
            10,
            "/health to name Redis",
        )
        assert health.status_code == 200
        assert health.json()["status"] == "degraded"
        assert health.json()["postgres"]["ok"]
        assert not health.json()["redis"]["ok"]
        assert httpx.get(web.url + "/login").status_code == 200  # it does serve pages
        ready = httpx.get(web.url + "/health/ready", timeout=5)
        assert ready.status_code == 503
        assert "Redis is not answering." in ready.json()["problems"]
    finally:
        stop_process(web.process)
        valkey.stop()


def test_metrics_has_latency_histogram_per_route(server: Server, account: Account) -> None:
    account.client.get("/clients/")
    text = httpx.get(server.url + "/metrics").text
    assert "wedsync_request_duration_seconds_bucket" in text
    assert 'path="/clients"' in text


def test_security_headers_and_request_id(server: Server) -> None:
    resp = httpx.get(server.url + "/login", headers={"X-Request-ID": "abc-123"})
    assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["x-request-id"] == "abc-123"
    odd = httpx.get(server.url + "/login", headers={"X-Request-ID": "<script>"})
    assert odd.headers["x-request-id"] != "<script>"


def test_worker_runs_a_real_job(services: Services, worker: subprocess.Popen[bytes], account: Account) -> None:
    from jobs.actors import ping

    with psycopg.connect(services.database_url) as conn:
        conn.execute("SELECT set_config('app.supplier_id', %s, true)", [str(account.supplier_id)])
        row = conn.execute(
            "INSERT INTO sync_jobs (supplier_id, kind, source) VALUES (%s, 'ping', %s) RETURNING id",
            [account.supplier_id, f"test-{uuid.uuid4().hex[:6]}"],
        ).fetchone()
    assert row is not None
    job_id = row[0]
    ping.send(account.supplier_id, job_id)

    def done() -> bool:
        with psycopg.connect(services.database_url) as conn:
            status = conn.execute("SELECT status FROM sync_jobs WHERE id = %s", [job_id]).fetchone()
        return status == ("succeeded",)

    started = time.monotonic()
    wait_for(done, 30, "the worker to finish the ping job")
    assert time.monotonic() - started < 30
    assert "succeeded" in account.client.get("/").text


def test_log_level_setting_silences_request_lines(services: Services) -> None:
    """LOG_LEVEL=WARNING: no per-request INFO lines (a busy server's largest log cost); INFO still has them."""
    outputs = {}
    for level in ("WARNING", "INFO"):
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "webapp.cli", "web", "--port", str(port)],
            env=services.env(LOG_LEVEL=level),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda port=port: _answers(f"http://127.0.0.1:{port}/login"), 30, "the web server")
            for _ in range(3):
                httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
        finally:
            proc.terminate()
            outputs[level] = proc.communicate(timeout=30)[0].decode()
    assert '"HTTP Request"' in outputs["INFO"]
    assert '"HTTP Request"' not in outputs["WARNING"]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False

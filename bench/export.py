"""``export_1m_peak_rss_mb``: a supplier with 1,000,000 clients downloads the CSV export; how much does the web
process grow while it streams? Also ``export_1m_s`` (time to the last byte) and the NDJSON figures as detail.

One ``wedsync web`` process against embedded PostgreSQL and Valkey (or ``DATABASE_URL`` / ``REDIS_URL``). The
clients are written in SQL (``bench.seed_scale``), the supplier signs up over HTTP. The web process's RSS is
sampled every 50 ms from another thread while the body is read as fast as loopback allows; the figure is the peak
minus the RSS just before the request (a warm process: one small export first, so imports and pools are loaded).
``BENCH_SCALE`` below 1 exports fewer rows.

Run on its own with ``python -m bench export``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil

from bench.imports import emit, migrated_services
from bench.seed_scale import analyze, seed_supplier
from bench.sse import sign_up_tenants, web_process

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
ROWS = max(10_000, int(1_000_000 * SCALE))
BUDGET_MB = 50.0  # constant memory: a page of 2,000 rows and its CSV text, whatever the list size


def measure(url: str, cookie: str, path: str, pid: int) -> dict[str, float]:
    process = psutil.Process(pid)
    baseline = process.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    first_byte_s = None
    size = lines = 0
    try:
        with (
            httpx.Client(base_url=url, headers={"cookie": cookie, "accept-encoding": "identity"}, timeout=120) as c,
            c.stream("GET", path) as response,
        ):
            assert response.status_code == 200, response.status_code
            for chunk in response.iter_bytes():
                if first_byte_s is None:
                    first_byte_s = time.perf_counter() - started
                size += len(chunk)
                lines += chunk.count(b"\n")
    finally:
        done.set()
        sampler.join()
    return {
        "seconds": time.perf_counter() - started,
        "first_byte_ms": (first_byte_s or 0) * 1000,
        "growth_mb": (peak - baseline) / 1e6,
        "baseline_mb": baseline / 1e6,
        "mb": size / 1e6,
        "lines": lines,
    }


def run(database_url: str, redis_url: str, tmp: Path) -> None:
    with web_process(database_url, redis_url, tmp) as web:
        big, small = sign_up_tenants(web, database_url, 2)
        seed_started = time.perf_counter()
        seed_supplier(database_url, big.supplier_id, ROWS)
        seed_supplier(database_url, small.supplier_id, 3_000)
        analyze(database_url)
        seed_s = time.perf_counter() - seed_started
        measure(web.url, small.cookie, "/clients/export.csv", web.process.pid)  # warm-up
        csv_run = measure(web.url, big.cookie, "/clients/export.csv", web.process.pid)
        ndjson_run = measure(web.url, big.cookie, "/clients/export.ndjson", web.process.pid)
    assert csv_run["lines"] == ROWS + 1, csv_run  # a heading line, then one line per client
    assert ndjson_run["lines"] == ROWS, ndjson_run

    def r(v: float) -> float:
        return round(v, 1)

    emit(
        "export_1m_peak_rss_mb", csv_run["growth_mb"], "MB", f"< {BUDGET_MB:.0f} MB growth of the web process",
        rows=ROWS, csv_mb=r(csv_run["mb"]), csv_s=r(csv_run["seconds"]), first_byte_ms=r(csv_run["first_byte_ms"]),
        baseline_rss_mb=r(csv_run["baseline_mb"]), ndjson_growth_mb=r(ndjson_run["growth_mb"]),
        ndjson_mb=r(ndjson_run["mb"]), ndjson_s=r(ndjson_run["seconds"]), seed_s=r(seed_s),
    )  # fmt: skip
    emit(
        "export_1m_s", csv_run["seconds"], "s", "none (reported)", rows=ROWS,
        rows_per_s=round(ROWS / csv_run["seconds"]), mb_per_s=r(csv_run["mb"] / csv_run["seconds"]),
    )  # fmt: skip


def main() -> int:
    with migrated_services("export") as (tmp, database_url, redis_url):
        run(database_url, redis_url, tmp)
    return 0


__all__ = ["main", "run"]

if __name__ == "__main__":
    sys.exit(main())

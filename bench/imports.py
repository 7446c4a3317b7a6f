"""Import benchmarks. Prints one JSON object per line: ``bench``, ``value``, ``unit``, ``budget`` + detail.

Starts its own embedded PostgreSQL and Valkey under a temporary directory unless ``DATABASE_URL`` and
``REDIS_URL`` are set. Sizes can be lowered for a smoke run with ``BENCH_SCALE`` (e.g. 0.05).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg

from jobs.upsert import DATA_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
CSV_ROWS = max(1_000, int(100_000 * SCALE))
API_ROWS = max(1_000, int(100_000 * SCALE))
CONCURRENT_JOBS = max(4, int(100 * SCALE))
STALE_FILE_ROWS = max(1_000, int(40_000 * SCALE))
STALE_OTHER_ROWS = max(5_000, int(300_000 * SCALE))
# One row in ten repeats an earlier client's id with other details: the client 1,001 rows above (in the batch before,
# half the time: from the second batch on every batch is an upsert), or 5 rows above near the top of the file.
REPEAT_EVERY = 10
ROWS_PER_JOB = 500
API_TIME_CAP_S = float(os.environ.get("BENCH_API_TIME_CAP_S", "150"))


def emit(bench: str, value: float, unit: str, budget: str, **detail: Any) -> None:
    print(json.dumps({"bench": bench, "value": round(value, 3), "unit": unit, "budget": budget, **detail}), flush=True)


@contextlib.contextmanager
def services(tmp: Path) -> Iterator[tuple[str, str]]:
    stops: list[Callable[[], None]] = []
    db_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    warnings.filterwarnings("ignore", module="platformdirs")
    from core.embedded import EmbeddedPostgres, EmbeddedValkey

    try:
        if not db_url:
            pg = EmbeddedPostgres(tmp / "postgres")
            pg.start()
            stops.append(pg.stop)
            db_url = pg.url
        if not redis_url:
            valkey = EmbeddedValkey(tmp / "valkey")
            valkey.start()
            stops.append(valkey.stop)
            redis_url = valkey.url
        yield db_url, redis_url
    finally:
        for stop in reversed(stops):
            stop()


@contextlib.contextmanager
def migrated_services(name: str) -> Iterator[tuple[Path, str, str]]:
    """A temporary directory, PostgreSQL and Redis (see ``services``) with the schema migrated: every suite's start."""
    with tempfile.TemporaryDirectory(prefix=f"wedsync-bench-{name}-") as tmpdir:
        tmp = Path(tmpdir)
        with services(tmp) as (database_url, redis_url):
            from core.db.migrate import migrate

            migrate(database_url)
            yield tmp, database_url, redis_url


# Names from the countries a UK or US studio's couples come from, accents and particles included.
_FIRST = ("Olivia", "Noah", "Siobhán", "José", "Zoë", "Mateo", "Aoife", "Liam", "Chloé", "Priya", "Oluwaseun",
          "Björn", "Ana", "Mei", "Émilie", "Tomás", "Fatima", "Grace", "Søren", "Ava")  # fmt: skip
_LAST = ("Smith", "Ní Bhriain", "García", "O'Connell", "Müller", "van der Berg", "Dubois", "Okafor", "Chen",
         "MacDonald", "Rossi", "Kowalski", "Ó Briain", "Nguyen", "Davies", "Sánchez", "Lefèvre", "Brown")  # fmt: skip


def _phone(i: int) -> str:
    """Mixed formats and countries, as a real export has them; ~1.5% of cells are no number at all."""
    if i % 67 == 5:
        return ("TBC", "n/a", "call after 6pm")[i % 3]
    n = 100000 + i % 900000
    return (
        f"07911 {n:06d}",
        f"+44 7911 {n:06d}",
        f"(0)7911-{n:06d}",
        f"+1 (312) 5{n % 100:02d}-{n % 10000:04d}",
        f"+353 87 {n % 1000:03d} {n % 10000:04d}",
        f"020 7946 0{n % 1000:03d}",
    )[i % 6]


def couples_csv(path: Path, n: int, *, prefix: str = "b", offset: int = 0) -> Path:
    """A realistic spreadsheet: names from many countries (accents, particles), partners sometimes in one cell
    ("Alex & Sam"), emails, phones in mixed formats and countries, dates in two formats, venues, statuses, and
    ~1.5% unusable fields (a phone "TBC", a date "TBD", an email "name@"), as the files photographers bring."""
    header = ["Client ID", "First Name", "Last Name", "Email", "Mobile", "Partner Name", "Wedding Date", "Venue",
              "Status", "Lead Source"]  # fmt: skip
    statuses = ("Booked", "Enquiry", "Completed", "Lead")
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for i in range(offset, offset + n):
            first, last = _FIRST[i % len(_FIRST)], _LAST[(i // 7) % len(_LAST)]
            partner = f"{_FIRST[(i + 3) % len(_FIRST)]} {_LAST[(i // 11) % len(_LAST)]}"
            if i % 9 == 4:  # both partners in the first-name cell
                first, partner = f"{first} & {partner.split()[0]}", ""
            email = f"{first.split()[0].lower()}{i}@example.com" if i % 71 != 7 else f"{first.lower()}@"
            date = f"{i % 28 + 1:02d}/{i % 12 + 1:02d}/{2026 + i % 3}" if i % 73 != 9 else "TBD"
            writer.writerow([
                f"{prefix}{i}", first, last, email, _phone(i), partner, date, f"Venue {i % 211}", statuses[i % 4],
                "Instagram" if i % 2 else "Google",
            ])  # fmt: skip
    return path


def new_supplier(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "INSERT INTO suppliers (business_name, email, password_hash) VALUES ('Bench Studio', %s, 'x') RETURNING id",
            [f"bench-{secrets.token_hex(6)}@example.com"],
        ).fetchone()
    assert row is not None
    return int(row[0])


def bench_csv(database_url: str, tmp: Path) -> None:
    from core.import_service import create_file_job, job_summary, open_pool
    from core.importing.parallel import started_pool
    from jobs.inline import run_inline

    path = couples_csv(tmp / "bench.csv", CSV_ROWS)
    started_pool()  # as every worker process does when it boots (jobs.cleaning_pool), before any import
    with open_pool(database_url, max_size=4) as pool:
        sid = new_supplier(database_url)
        t0 = time.perf_counter()
        job = create_file_job(pool, sid, "GB", path)
        upload_s = time.perf_counter() - t0
        load = os.getloadavg()[0]
        cpu0, tree0, pg0 = _cpu_s(), _cpu_s(tree=True), _postgres_cpu_s(tmp)
        t0 = time.perf_counter()
        run_inline(pool, sid, job)
        import_s = time.perf_counter() - t0
        cpu1, tree1, pg1 = _cpu_s(), _cpu_s(tree=True), _postgres_cpu_s(tmp)
        first = job_summary(pool, sid, job)
        assert first.created == CSV_ROWS, first

        job2 = create_file_job(pool, sid, "GB", path)
        t0 = time.perf_counter()
        run_inline(pool, sid, job2)
        reimport_s = time.perf_counter() - t0
        second = job_summary(pool, sid, job2)
        assert second.unchanged == CSV_ROWS, second

        # The floor: the same rows, already clean, loaded by one raw COPY into the same table (same
        # indexes, constraints and generated columns) for another supplier, as the table owner (COPY
        # FROM cannot run under row-level security). Until 2026-11-24 the floor was a COPY of the CSV
        # into a bare table of text columns with no index; that is still reported as copy_bare_s. Both
        # tables start empty, as the first import's did.
        columns = ", ".join(("source", "external_id", *DATA_COLUMNS))
        with psycopg.connect(database_url) as conn:
            clean = io.BytesIO()
            select = f"SELECT {columns} FROM clients WHERE supplier_id = {sid} ORDER BY id"
            with conn.cursor() as cur, cur.copy(f"COPY ({select}) TO STDOUT") as out:
                for data in out:
                    clean.write(data)
            floor_sid = new_supplier(database_url)
            prefix = f"{floor_sid}\t".encode()
            payload = b"".join(prefix + line for line in clean.getvalue().splitlines(keepends=True))
            conn.execute("TRUNCATE clients CASCADE")  # into an empty table, as the first import was
            conn.commit()
            t0 = time.perf_counter()
            with conn.cursor() as cur, cur.copy(f"COPY clients (supplier_id, {columns}) FROM STDIN") as cp:
                cp.write(payload)
            conn.commit()
            copy_s = time.perf_counter() - t0
            conn.execute("TRUNCATE clients CASCADE")
            conn.commit()
            conn.execute("CREATE TABLE bench_copy (" + ", ".join(f"c{i} text" for i in range(10)) + ")")
            t0 = time.perf_counter()
            with conn.cursor() as cur, cur.copy("COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as cp:
                cp.write(path.read_bytes())
            conn.commit()
            copy_bare_s = time.perf_counter() - t0
            conn.execute("DROP TABLE bench_copy")
            conn.commit()
    detail = {"rows": CSV_ROWS, "bytes": path.stat().st_size}
    # Where the first import's CPU went: the job's process (reading, COPY), its cleaning pool, PostgreSQL.
    cpu = {"job_cpu_s": round(cpu1 - cpu0, 2), "pool_cpu_s": round((tree1 - tree0) - (cpu1 - cpu0), 2),
           "postgres_cpu_s": round(pg1 - pg0, 2) if pg0 is not None and pg1 is not None else None,
           "loadavg_1m_before": round(load, 2)}  # fmt: skip
    emit("import_csv_100k_s", import_s * 100_000 / CSV_ROWS, "s", "<= 4", measured_s=round(import_s, 3),
         rows_per_s=round(CSV_ROWS / import_s), upload_s=round(upload_s, 3),
         cleaning_pool="started before the clock, as a worker starts it at boot", **cpu, **detail)  # fmt: skip
    emit("import_csv_vs_copy_ratio", import_s / copy_s, "x", "<= 3", import_s=round(import_s, 3),
         copy_s=round(copy_s, 3), floor="COPY of the cleaned rows into clients (same indexes), as the owner",
         copy_bare_s=round(copy_bare_s, 3), vs_bare_ratio=round(import_s / copy_bare_s, 1), **detail)  # fmt: skip
    emit("reimport_unchanged_speedup", import_s / reimport_s, "x", ">= 2",
         first_s=round(import_s, 3), reimport_s=round(reimport_s, 3), **detail)  # fmt: skip


def repeating_csv(path: Path, n: int) -> tuple[Path, int]:
    """``couples_csv`` where one row in ten repeats an earlier client's id with other details (``REPEAT_EVERY``).
    Returns the file and its number of distinct clients."""
    couples_csv(path, n)
    lines = path.read_text(encoding="utf-8").splitlines()
    for k in range(REPEAT_EVERY, len(lines), REPEAT_EVERY):  # line k holds row k - 1
        back = 1_001 if k - 1 >= 1_001 else 5  # never onto another repeating row (those are 9 mod 10)
        lines[k] = f"b{k - 1 - back}," + lines[k].split(",", 1)[1]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path, len({line.split(",", 1)[0] for line in lines[1:]})


def bench_stale_stats(database_url: str, tmp: Path) -> None:
    """``import_stale_stats_ratio``: a studio's first import when the table's statistics know nothing of it (another
    studio's 300,000 rows loaded and analysed, this studio's 40,000 not), against the same import into an empty
    table. The file repeats ids, so every batch is an upsert whose lookups of stored rows must not depend on the
    statistics (jobs/upsert.py: ``this``); before that, batches slowed from 0.3 s to 45 s."""
    from bench.seed_scale import analyze, seed_supplier
    from core.import_service import create_file_job, job_summary, open_pool
    from core.importing.parallel import started_pool
    from jobs.inline import run_inline

    path, distinct = repeating_csv(tmp / "repeating.csv", STALE_FILE_ROWS)
    warm_up = couples_csv(tmp / "warm-up.csv", 1_000, prefix="w")
    started_pool()

    def timed_import(pool: Any) -> tuple[float, Any]:
        sid = new_supplier(database_url)
        job = create_file_job(pool, sid, "GB", path)
        t0 = time.perf_counter()
        run_inline(pool, sid, job)
        seconds = time.perf_counter() - t0
        summary = job_summary(pool, sid, job)
        assert (summary.status, summary.created, summary.processed) == ("succeeded", distinct, STALE_FILE_ROWS), summary
        return seconds, summary

    with open_pool(database_url, max_size=4) as pool:
        warm_sid = new_supplier(database_url)
        run_inline(pool, warm_sid, create_file_job(pool, warm_sid, "GB", warm_up))  # caches, plans, the pool's forks
        # Each side twice, the faster counted (the first of a pair may still warm caches); the empty table is emptied
        # again before the second, the stale one is not (another new studio: the statistics are staler still).
        empties = []
        for _ in range(2):
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute("TRUNCATE clients CASCADE")
            empties.append(timed_import(pool))
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("TRUNCATE clients CASCADE")
        seed_supplier(database_url, new_supplier(database_url), STALE_OTHER_ROWS)
        analyse_s = analyze(database_url)
        stales = [timed_import(pool) for _ in range(2)]
    (empty_s, empty), (stale_s, stale) = min(empties, key=lambda r: r[0]), min(stales, key=lambda r: r[0])
    emit("import_stale_stats_ratio", stale_s / empty_s, "x", "<= 1.2", stale_s=round(stale_s, 3),
         empty_s=round(empty_s, 3), empty_runs_s=[round(r[0], 3) for r in empties],
         stale_runs_s=[round(r[0], 3) for r in stales], rows=STALE_FILE_ROWS, clients=distinct,
         other_studio_rows=STALE_OTHER_ROWS,
         analyse_s=round(analyse_s, 2), updated=stale.updated, same_counts=(stale.created, stale.updated,
         stale.unchanged) == (empty.created, empty.updated, empty.unchanged))  # fmt: skip


def stale_main() -> int:
    """Only ``import_stale_stats_ratio`` (``python -m bench stale``)."""
    import structlog

    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    with migrated_services("stale") as (tmp, database_url, redis_url):
        os.environ.setdefault("WEDSYNC_VAR_DIR", str(tmp / "var"))
        os.environ["DATABASE_URL"], os.environ["REDIS_URL"] = database_url, redis_url
        bench_stale_stats(database_url, tmp)
    return 0


def _cpu_s(pid: int | None = None, *, tree: bool = False, exclude: int | None = None) -> float:
    """User + system CPU seconds of a live process (this one by default), with its live descendants when
    ``tree`` (the import's cleaning pool), to tell CPU cost from a busy machine."""
    import psutil

    top = psutil.Process(pid)
    total = 0.0
    for proc in [top, *(top.children(recursive=True) if tree else [])]:
        if proc.pid != exclude:
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
    return total


def _postgres_cpu_s(tmp: Path) -> float | None:
    """User + system CPU seconds of the embedded PostgreSQL started under ``tmp`` (postmaster, live processes,
    and the backends it has already reaped); None when the bench uses a server of its own (DATABASE_URL)."""
    import psutil

    pid_file = tmp / "postgres" / "data" / "postmaster.pid"
    if not pid_file.exists():
        return None
    postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
    times = postmaster.cpu_times()
    total = times.children_user + times.children_system
    for proc in [postmaster, *postmaster.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


@contextlib.contextmanager
def sandbox_process(size: int, api_key: str) -> Iterator[tuple[str, int]]:
    """The sandbox CRM in its own process; yields its base URL and process id."""
    from core.embedded import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobs.sandbox", "--size", str(size), "--port", str(port), "--api-key", api_key],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/_sandbox/health", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the sandbox CRM did not start")
            time.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(20)


def _api_run(database_url: str, size: int, tmp: Path | None = None) -> dict[str, Any]:
    """One full Tave import of ``size`` jobs through the real runner: seconds, requests, processed, and the CPU
    seconds of this process with its cleaning pool (runner), of the sandbox and of the embedded PostgreSQL under
    ``tmp`` when there is one, which say more than wall time on a shared machine."""

    from core.import_service import job_summary, open_pool
    from core.providers.tave import TaveClient
    from jobs.runner import run_job
    from jobs.sources import tave_batches

    key = secrets.token_hex(8)
    started = time.perf_counter()
    with sandbox_process(size, key) as (url, sandbox_pid), open_pool(database_url, max_size=4) as pool:
        # Start-up builds and encodes the studio's records (jobs.sandbox.world.PRELOAD_MAX), off the clock.
        sandbox_start_s = time.perf_counter() - started
        sid = new_supplier(database_url)
        with psycopg.connect(database_url) as conn:
            conn.execute("SELECT set_config('app.supplier_id', %s, true)", [str(sid)])
            row = conn.execute(
                "INSERT INTO crm_integrations (supplier_id, provider, name, base_url) VALUES (%s, 'tave', 'b', %s) "
                "RETURNING id",
                [sid, url + "/v2"],
            ).fetchone()
            assert row is not None
            job = conn.execute(
                "INSERT INTO sync_jobs (supplier_id, integration_id, kind, source) "
                "VALUES (%s, %s, 'full_import', 'tave') RETURNING id",
                [sid, row[0]],
            ).fetchone()
            assert job is not None
        job_id = int(job[0])

        def batches(j: Any, *_: Any) -> Any:
            # A transport of its own, as the worker's (which paces it per account) is: same request path.
            client = TaveClient(url + "/v2", key, transport=httpx.HTTPTransport(), allow_local=True)
            return tave_batches(client, kind=j.kind, region="GB", checkpoint=j.checkpoint, saved_cursor=None)

        load = os.getloadavg()[0]
        pg0 = _postgres_cpu_s(tmp) if tmp is not None else None
        cpu0, sandbox0 = _cpu_s(tree=True, exclude=sandbox_pid), _cpu_s(sandbox_pid)
        t0 = time.perf_counter()
        run_job(pool, sid, job_id, batches)
        seconds = time.perf_counter() - t0
        cpu1, sandbox1 = _cpu_s(tree=True, exclude=sandbox_pid), _cpu_s(sandbox_pid)
        pg1 = _postgres_cpu_s(tmp) if tmp is not None else None
        summary = job_summary(pool, sid, job_id)
        requests = int(httpx.get(url + "/_sandbox/stats").json()["total"])
    return {"seconds": seconds, "requests": requests, "processed": summary.processed,
            "runner_cpu_s": round(cpu1 - cpu0, 2), "sandbox_cpu_s": round(sandbox1 - sandbox0, 2),
            "postgres_cpu_s": round(pg1 - pg0, 2) if pg0 is not None and pg1 is not None else None,
            "sandbox_start_s": round(sandbox_start_s, 2), "loadavg_1m_before": round(load, 2)}  # fmt: skip


def bench_api(database_url: str, tmp: Path | None = None) -> None:
    # A small run first: if the full size would blow the time cap, report the extrapolation instead.
    probe_size = max(1_000, API_ROWS // 10)
    probe = _api_run(database_url, probe_size, tmp)
    predicted = probe["seconds"] * API_ROWS / probe_size
    how = ("in-process runner, sandbox in its own process, TaveClient with up to 4 requests in flight per walk (the "
           "contacts walk runs alongside the job walk: up to 8) on an unpaced transport: no per-account pacing, whose "
           "product default (CRM_REQUESTS_PER_S=20) alone would take "
           ">= 300 s for the ~6,000 requests of 100,000 clients; the sandbox builds and encodes its records at "
           "start-up (sandbox_start_s, off the clock; until 2026-11-24 it made each record while serving it, "
           "~7.7 of its ~9 CPU-s)")  # fmt: skip
    if predicted <= API_TIME_CAP_S:
        run = _api_run(database_url, API_ROWS, tmp)
        seconds = run.pop("seconds")
        emit("import_api_100k_s", seconds * 100_000 / API_ROWS, "s", "<= 10", clients=API_ROWS,
             measured_s=round(seconds, 3), rate_limited=False, **run, note=how)  # fmt: skip
    else:
        seconds = probe.pop("seconds")
        emit("import_api_100k_s", predicted * 100_000 / API_ROWS, "s", "<= 10", clients=probe_size,
             measured_s=round(seconds, 3), extrapolated=True, **probe,
             note=f"{how}; measured {probe_size:,} clients and scaled linearly: the full size would exceed "
                  f"{API_TIME_CAP_S:.0f} s")  # fmt: skip


def bench_concurrent(database_url: str, redis_url: str, tmp: Path) -> None:
    from dramatiq import Message
    from dramatiq.brokers.redis import RedisBroker

    from core.import_service import create_file_job, job_summary, open_pool

    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, WEDSYNC_VAR_DIR=str(tmp / "var"),
               LOG_LEVEL="WARNING", WORKER_DB_POOL_MAX="24", PYTHONUNBUFFERED="1")  # fmt: skip
    processes, threads = 2, 8
    log = (tmp / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", "worker", "--processes", str(processes), "--threads", str(threads)],
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    broker = RedisBroker(url=redis_url, namespace="wedsync")  # type: ignore[no-untyped-call]
    try:
        import redis

        from jobs.heartbeat import HEARTBEAT_KEY

        client = redis.Redis.from_url(redis_url)
        started = time.time()
        deadline = time.monotonic() + 60
        while len(client.zrangebyscore(HEARTBEAT_KEY, started - 1, "+inf")) < processes:
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the workers did not start")
            time.sleep(0.1)
        with open_pool(database_url, max_size=4) as pool:
            jobs: list[tuple[int, int]] = []
            for n in range(CONCURRENT_JOBS):
                sid = new_supplier(database_url)
                path = couples_csv(tmp / f"c{n}.csv", ROWS_PER_JOB, prefix=f"j{n}-")
                jobs.append((sid, create_file_job(pool, sid, "GB", path)))
            t0 = time.perf_counter()
            for sid, job_id in jobs:
                broker.enqueue(Message(queue_name="imports", actor_name="file_import", args=(sid, job_id),
                                       kwargs={}, options={}))  # fmt: skip
            pending = dict(jobs)
            done: dict[int, Any] = {}
            deadline = time.monotonic() + 300
            while pending and time.monotonic() < deadline:
                for job_id, sid in [(j, s) for s, j in jobs if j not in done]:
                    summary = job_summary(pool, sid, job_id)
                    if summary.finished:
                        done[job_id] = summary
                        pending.pop(sid, None)
                time.sleep(0.05)
            seconds = time.perf_counter() - t0
        created = sum(s.created for s in done.values())
        emit("import_concurrent_100x500_s", seconds, "s", "<= 15", jobs=CONCURRENT_JOBS, rows_per_job=ROWS_PER_JOB,
             finished=len(done), created=created, workers=f"{processes} processes x {threads} threads")  # fmt: skip
    finally:
        broker.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)


def main() -> int:
    import structlog

    # stdout carries only the JSON lines; the runner's own log lines go to stderr.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    with tempfile.TemporaryDirectory(prefix="wedsync-bench-") as tmpdir:
        tmp = Path(tmpdir)
        os.environ.setdefault("WEDSYNC_VAR_DIR", str(tmp / "var"))
        with services(tmp) as (database_url, redis_url):
            os.environ["DATABASE_URL"], os.environ["REDIS_URL"] = database_url, redis_url
            from core.db.migrate import migrate

            migrate(database_url)
            bench_csv(database_url, tmp)
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute("TRUNCATE clients CASCADE")  # each bench starts from an empty table
            bench_stale_stats(database_url, tmp)
            bench_concurrent(database_url, redis_url, tmp)
            bench_api(database_url, tmp)
    return 0


__all__ = ["main", "stale_main"]

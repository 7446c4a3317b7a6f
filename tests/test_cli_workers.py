"""``wedsync web --workers N`` and ``wedsync worker --processes N``: several processes, one set of metrics.

Each test gives its processes their own ``PROMETHEUS_MULTIPROC_DIR`` (a temporary directory) so counts are
exact, and checks the files prometheus_client keeps there per process id.
"""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import redis

from core.queue import HEARTBEAT_KEY
from tests.fixtures import ROOT, Services, free_port, stop_process, wait_for
from webapp.cli import wipe_dead_metrics

_LOGIN_COUNT = re.compile(r'^wedsync_requests_total\{[^}]*path="/login"[^}]*\} ([0-9.e+]+)$', re.MULTILINE)


def _pids_with_files(metrics_dir: Path, prefix: str) -> set[int]:
    return {int(f.stem.rpartition("_")[2]) for f in metrics_dir.glob(f"{prefix}*.db")}


def _descendants(proc: subprocess.Popen[bytes]) -> set[int]:
    return {child.pid for child in psutil.Process(proc.pid).children(recursive=True)}


def test_web_workers_share_one_port_and_one_metrics_view(services: Services, tmp_path: Path) -> None:
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999999.db").write_bytes(b"stale")  # a dead pid from an earlier run: wiped
    port = free_port()
    env = services.env(PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    proc = subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", "web", "--port", str(port), "--workers", "2"], env=env, cwd=ROOT
    )
    url = f"http://127.0.0.1:{port}"
    sent = 0
    try:

        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError("wedsync web exited during start-up")
            try:
                return httpx.get(url + "/login", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, 60, "wedsync web --workers 2")
        sent = 1
        seen: dict[str, object] = {}

        def both_answered() -> bool:
            # Fresh connections in parallel until both worker processes have answered at least once: the
            # kernel hands each connection to whichever process accepts first, so one may take a whole burst.
            nonlocal sent
            with ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(lambda _: httpx.get(url + "/login", timeout=10).status_code, range(40)))
            sent += len(codes)
            assert set(codes) == {200}
            seen.update(children=_descendants(proc), files=_pids_with_files(metrics_dir, "counter_"))
            return len(_pids_with_files(metrics_dir, "counter_") & _descendants(proc)) == 2

        try:
            wait_for(both_answered, 90, "both web worker processes to answer")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {seen}") from exc
        assert not (metrics_dir / "counter_999999999.db").exists()
        workers = _pids_with_files(metrics_dir, "counter_") & _descendants(proc)
        assert len(workers) == 2

        # Whichever process answers the scrape reports every process's requests: exactly what was sent.
        for _ in range(4):
            text = httpx.get(url + "/metrics", timeout=5).text
            assert sum(float(v) for v in _LOGIN_COUNT.findall(text)) == sent
        assert _pids_with_files(metrics_dir, "gauge_livesum_") >= workers  # requests in progress, per process
    finally:
        stop_process(proc)
    assert proc.returncode == 0
    # Their "live" gauges went with them (mark_process_dead); counters stay until the next start-up.
    assert not _pids_with_files(metrics_dir, "gauge_livesum_") & workers
    assert _pids_with_files(metrics_dir, "counter_") >= workers


def test_worker_processes_each_beat_and_leave_cleanly(services: Services, tmp_path: Path) -> None:
    metrics_dir = tmp_path / "prom"
    env = services.env(PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    proc = subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", "worker", "--processes", "2", "--threads", "1"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis.from_url(services.redis_url)

    def ours() -> set[int]:
        # Other tests' workers beat into the same set: keep the members that are this command's processes.
        names = {m.decode() for m in client.zrange(HEARTBEAT_KEY, 0, -1)}
        pids = {int(name.rpartition(":")[2]) for name in names}
        return pids & _descendants(proc) if proc.poll() is None else set()

    try:
        beating = wait_for(lambda: ours() if len(ours()) == 2 else None, 60, "two worker processes' heartbeats")
        assert metrics_dir.is_dir()  # created for the worker processes before they started
    finally:
        stop_process(proc)
    assert proc.returncode == 0
    names = {int(m.decode().rpartition(":")[2]) for m in client.zrange(HEARTBEAT_KEY, 0, -1)}
    assert not names & beating  # each process took its heartbeat away as it stopped


def test_wipe_keeps_the_files_of_running_processes(tmp_path: Path) -> None:
    import os

    live = tmp_path / f"counter_{os.getpid()}.db"
    dead = tmp_path / "histogram_999999999.db"
    dead_gauge = tmp_path / "gauge_livesum_999999998.db"
    other = tmp_path / "notes.txt"
    for path in (live, dead, dead_gauge, other):
        path.write_bytes(b"x")
    removed = wipe_dead_metrics(tmp_path)
    assert sorted(removed) == sorted([dead, dead_gauge])
    assert live.exists()
    assert other.exists()

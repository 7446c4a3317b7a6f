"""The import cleaning pool starts with the worker and never outlives it.

A Dramatiq worker process is a multiprocessing child of ``dramatiq``'s main process; the child below
is one too, so it exits the same way a worker does (multiprocessing joins its children first).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.fixtures import ROOT, Services, stop_process, wait_for

WORKER = """
import multiprocessing, signal, sys, threading, time

def run():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # as Dramatiq's worker does: stop gracefully
    from core.importing import parallel
    from tests.unit.test_importing_parallel import CTX, MAPPING, rows

    def job():  # an import in one of the worker's threads, as Dramatiq runs actors
        list(parallel.clean_rows(iter(rows(3 * parallel.CHUNK_ROWS)), MAPPING, CTX))

    thread = threading.Thread(target=job)
    thread.start()
    thread.join()
    print(" ".join(str(pid) for pid in parallel.started_pool()._processes), flush=True)
    signal.pause()  # until the test kills this process

if __name__ == "__main__":
    worker = multiprocessing.get_context("fork").Process(target=run)
    worker.start()
    print(worker.pid, flush=True)
    worker.join()
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def _start(tmp_path: Path) -> tuple[subprocess.Popen[str], int, list[int]]:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = dict(os.environ, PYTHONPATH=str(ROOT), IMPORT_PROCESSES="2")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)  # fmt: skip
    assert proc.stdout is not None
    worker = int(proc.stdout.readline())
    pool = [int(pid) for pid in proc.stdout.readline().split()]
    assert pool
    assert all(_alive(pid) for pid in pool)
    return proc, worker, pool


def test_sigterm_to_the_whole_group_stops_worker_and_pool(tmp_path: Path) -> None:
    proc, worker, pool = _start(tmp_path)
    os.killpg(proc.pid, signal.SIGTERM)  # what Ctrl-C or a service manager does to a process group
    assert proc.wait(30) is not None
    wait_for(lambda: not any(_alive(pid) for pid in [worker, *pool]), 30, "the worker and its pool to exit")


def test_a_killed_worker_leaves_no_pool_behind(tmp_path: Path) -> None:
    proc, worker, pool = _start(tmp_path)
    os.kill(worker, signal.SIGKILL)  # only the worker: its pool processes must notice on their own
    wait_for(lambda: not any(_alive(pid) for pid in pool), 30, "the orphaned pool processes to exit")
    proc.wait(30)


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                continue
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _pool_processes(pid: int) -> list[int]:
    """The forkserver under ``pid`` and the pool processes it forked (they share its command line)."""

    def is_pool(child: int) -> bool:
        try:
            return b"multiprocessing.forkserver" in Path(f"/proc/{child}/cmdline").read_bytes() and _alive(child)
        except FileNotFoundError:
            return False

    return [child for child in _descendants(pid) if is_pool(child)]


def _whole_pool(pid: int) -> list[int] | None:
    found = _pool_processes(pid)
    return found if len(found) == 3 else None


def test_a_worker_starts_its_pool_when_it_boots(services: Services) -> None:
    """No import has run, and the pool is up: the first big file a worker gets does not wait for it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", "worker", "--processes", "1", "--threads", "1"],
        env=services.env(IMPORT_PROCESSES="2"),
        cwd=ROOT,
    )
    try:
        pool = wait_for(lambda: _whole_pool(proc.pid), 60, "the forkserver and two pool processes")
    finally:
        stop_process(proc)
    wait_for(lambda: not any(_alive(pid) for pid in pool), 30, "the pool to exit with the worker")

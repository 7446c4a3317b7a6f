"""The import cleaning pool never outlives the worker that started it.

A Dramatiq worker process is a multiprocessing child of ``dramatiq``'s main process; the child below
is one too, so it exits the same way a worker does (multiprocessing joins its children first).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.fixtures import ROOT, wait_for

WORKER = """
import multiprocessing, signal, sys, threading, time

def run():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # as Dramatiq's worker does: stop gracefully
    from jobs.importing import parallel
    from tests.unit.test_importing_parallel import CTX, MAPPING, rows

    def job():  # an import in one of the worker's threads, as Dramatiq runs actors
        list(parallel.clean_rows(iter(rows(3 * parallel.CHUNK_ROWS)), MAPPING, CTX))

    thread = threading.Thread(target=job)
    thread.start()
    thread.join()
    print(" ".join(str(pid) for pid in parallel.started_pool()._processes), flush=True)
    time.sleep(120)

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

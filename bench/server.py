"""Servers for benchmarks as child processes: started on a port the system picks, waited for until they answer,
always stopped.

No port is chosen here for a child to bind later: another program on this shared machine could take it in between
(the first ``make bench`` of a day once lost PostgreSQL's port that way). The child binds port 0 and reports the
port it got (``--port-file``); it is then asked until it answers a real request, not just until the port opens.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import httpx

from bench.imports import ROOT


@contextlib.contextmanager
def running_server(
    command: list[str],
    ready: Callable[[str], bool],
    env: dict[str, str] | None = None,
    *,
    stdout: IO[bytes] | IO[str] | None = None,
    stderr: IO[bytes] | IO[str] | None = None,
    timeout_s: float = 60,
) -> Iterator[tuple[str, int, subprocess.Popen[bytes]]]:
    """``command --port 0 --port-file F``: yields (url, port, process) once ``ready(url)`` is true."""
    with tempfile.TemporaryDirectory(prefix="wedsync-port-") as tmp:
        port_file = Path(tmp) / "port"
        proc = subprocess.Popen(
            [*command, "--port", "0", "--port-file", str(port_file)], env=env, cwd=ROOT, stdout=stdout, stderr=stderr
        )
        try:
            deadline = time.monotonic() + timeout_s
            url = ""
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{command[-1]} exited during start-up (status {proc.returncode})")
                if not url and port_file.exists():
                    url = f"http://127.0.0.1:{int(port_file.read_text())}"
                if url:
                    with contextlib.suppress(httpx.TransportError):
                        if ready(url):
                            break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command[-1]} did not answer within {timeout_s:.0f} s")
                time.sleep(0.1)  # polling a child process: there is nothing to wait on
            yield url, int(url.rsplit(":", 1)[1]), proc
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def running_web(
    env: dict[str, str], *args: str, stdout: IO[bytes] | IO[str], stderr: IO[bytes] | IO[str]
) -> Iterator[tuple[str, int, subprocess.Popen[bytes]]]:
    """``wedsync web *args`` with ``env``: yields (url, port, process) once ``/login`` answers."""
    command = [sys.executable, "-m", "webapp.cli", "web", *args]
    with running_server(command, _answers("/login"), env, stdout=stdout, stderr=stderr) as running:
        yield running


@contextlib.contextmanager
def running_hello(
    workers: int, env: dict[str, str] | None = None
) -> Iterator[tuple[str, int, subprocess.Popen[bytes]]]:
    """The bare Litestar hello-world (``bench.hello``) with ``wedsync web``'s server settings and ``workers``."""
    command = [sys.executable, "-m", "bench.hello", "--workers", str(workers)]
    with running_server(command, _answers("/"), env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as running:
        yield running


def _answers(path: str) -> Callable[[str], bool]:
    return lambda url: httpx.get(url + path, timeout=2).status_code == 200

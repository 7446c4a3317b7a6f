"""A ``wedsync web`` child process for benchmarks: started on a free port, waited for, always stopped."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import IO

import httpx

from bench.imports import ROOT


@contextlib.contextmanager
def running_web(
    env: dict[str, str], *args: str, stdout: IO[bytes] | IO[str], stderr: IO[bytes] | IO[str]
) -> Iterator[tuple[str, int, subprocess.Popen[bytes]]]:
    """``wedsync web --port P *args`` with ``env``: yields (url, port, process) once ``/login`` answers."""
    from core.embedded import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", "web", "--port", str(port), *args],
        env=env, cwd=ROOT, stdout=stdout, stderr=stderr,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError("the web server exited during start-up")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/login", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the web server did not start within 60 s")
            time.sleep(0.1)  # polling a child's port: there is nothing to wait on
        yield url, port, proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

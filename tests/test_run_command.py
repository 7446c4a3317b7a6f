"""`wedsync run` (what `make run` calls): embedded servers, migrations, demo data, worker and web,
and a Ctrl-C that leaves no process behind and keeps the data for the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil

from tests.fixtures import ROOT, browser_client, csrf_from, free_port, wait_for
from webapp.cli import DEMO_EMAIL, DEMO_PASSWORD


def _start(var_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(WEDSYNC_VAR_DIR=str(var_dir), PORT=str(port), PYTHONUNBUFFERED="1")
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "webapp.cli", "run", "--demo-clients", "40"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _processes_using(var_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(var_dir) in cmdline:
            found.append(proc)
    return found


def test_run_serves_the_demo_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    var_dir, log = tmp_path / "var", tmp_path / "run.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start(var_dir, port, log)
    try:
        # The address is printed once the server answers: a photographer opening it at once is served.
        wait_for(lambda: proc.poll() is not None or "is running at" in log.read_text(), 120, "the address")
        assert proc.poll() is None, log.read_text()
        assert _healthy(url)
        descendants = psutil.Process(proc.pid).children(recursive=True)
        assert descendants, "web and worker run as child processes"

        client = browser_client(url)
        token = csrf_from(client.get("/login").text)
        resp = client.post("/login", data={"_csrf_token": token, "email": DEMO_EMAIL, "password": DEMO_PASSWORD})
        assert resp.status_code == 303
        assert 'data-testid="client-count">40<' in client.get("/").text
        output = log.read_text()
        assert f"http://127.0.0.1:{port}/" in output
        assert DEMO_PASSWORD in output

        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        wait_for(lambda: not any(p.is_running() for p in descendants), 30, "children to exit")
        wait_for(lambda: not _processes_using(var_dir), 30, "embedded servers to stop")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # A second run reuses var/: the demo supplier is there already and nothing is seeded twice.
    proc = _start(var_dir, port, log)
    try:
        wait_for(lambda: proc.poll() is not None or _healthy(url), 120, "the second run")
        assert "Demo data: already there" in log.read_text()
        client = browser_client(url)
        token = csrf_from(client.get("/login").text)
        client.post("/login", data={"_csrf_token": token, "email": DEMO_EMAIL, "password": DEMO_PASSWORD})
        assert 'data-testid="client-count">40<' in client.get("/").text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        wait_for(lambda: not _processes_using(var_dir), 30, "embedded servers to stop")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

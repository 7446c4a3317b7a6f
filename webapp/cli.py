"""``wedsync``: run the whole app, or one part of it."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.embedded import free_port
from core.job_lifecycle import JobKind
from core.settings import load_settings
from core.sources import FILE_SOURCES

DEMO_EMAIL = "demo@wedsync.test"
DEMO_PASSWORD = "demo-wedding-2026"  # noqa: S105 - printed on purpose: the local demo login


METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _metrics_dir() -> Path:
    """Where this machine's processes write their Prometheus metrics (``PROMETHEUS_MULTIPROC_DIR``).

    Default: ``var/prometheus`` beside the embedded databases (``WEDSYNC_VAR_DIR`` as ``load_settings`` reads it,
    without generating secrets: a worker needs none). Set in ``os.environ`` before anything imports
    prometheus_client, which picks its file-backed values at import time; children inherit it.
    """
    given = os.environ.get(METRICS_DIR_ENV)
    if given:
        path = Path(given)
    else:
        from core.settings import PROJECT_ROOT

        path = Path(os.environ.get("WEDSYNC_VAR_DIR", PROJECT_ROOT / "var")).resolve() / "prometheus"
    path.mkdir(parents=True, exist_ok=True)
    os.environ[METRICS_DIR_ENV] = str(path)
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _metric_file_pid(path: Path) -> int | None:
    """The pid in prometheus_client's file names (``counter_123.db``, ``gauge_livesum_123.db``)."""
    tail = path.stem.rpartition("_")[2]
    return int(tail) if tail.isdigit() else None


def wipe_dead_metrics(path: Path) -> list[Path]:
    """Delete the metric files of processes that are no longer running; return what was removed.

    prometheus_client says to wipe the directory before start-up, so a new run does not add to the last one's
    counters (and a reused pid does not inherit them). A whole-directory wipe would also delete the files of
    processes still running on this machine (a worker started before ``wedsync web``, or the other web
    processes), whose counts then vanish from every scrape; removing only dead pids' files is the same wipe
    for everything that is actually stale.
    """
    removed = []
    for file in path.glob("*.db"):
        pid = _metric_file_pid(file)
        if pid is not None and not _pid_alive(pid):
            with contextlib.suppress(FileNotFoundError):  # another process swept it first
                file.unlink()
                removed.append(file)
    return removed


def mark_dead_processes(path: Path, *, exiting: int | None = None) -> None:
    """``mark_process_dead`` for every exited process with live-gauge files (web workers, Dramatiq workers).

    Called by the supervising process once its children have exited: uvicorn and Dramatiq fork the processes
    that write metrics and offer no hook in the parent when one of them ends. Counters and histograms of dead
    processes stay (totals must not go backwards until the next start-up wipe); only "live" gauges go.
    ``exiting`` is this process when it served requests itself (``wedsync web`` with one worker).
    """
    from prometheus_client import multiprocess

    pids = {pid for file in path.glob("gauge_live*_*.db") if (pid := _metric_file_pid(file)) is not None}
    for pid in pids:
        if pid == exiting or not _pid_alive(pid):
            multiprocess.mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]


def _die_with_parent() -> None:
    """Children of `wedsync run` get SIGTERM if the supervisor itself is killed (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _embedded_services(var_dir: Path) -> tuple[dict[str, str], list[Callable[[], None]]]:
    """Start what DATABASE_URL / REDIS_URL don't point at; return env to pass on and stop callbacks."""
    warnings.filterwarnings("ignore", module="platformdirs")
    from core.embedded import EmbeddedPostgres, EmbeddedValkey

    env: dict[str, str] = {}
    stops: list[Callable[[], None]] = []
    if not os.environ.get("DATABASE_URL"):
        pg = EmbeddedPostgres(var_dir / "postgres")
        print("Starting embedded PostgreSQL…", flush=True)
        pg.start()
        env["DATABASE_URL"] = pg.url
        stops.append(pg.stop)
    if not os.environ.get("REDIS_URL"):
        valkey = EmbeddedValkey(var_dir / "valkey")
        print("Starting embedded Valkey (Redis-compatible)…", flush=True)
        try:
            valkey.start()
        except Exception:
            for stop in reversed(stops):
                stop()
            raise
        env["REDIS_URL"] = valkey.url
        stops.append(valkey.stop)
    return env, stops


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    wipe_dead_metrics(_metrics_dir())  # the worker and web started below inherit the directory
    env, stops = _embedded_services(settings.var_dir)
    # The demo's integrations point at the sandbox CRM on this machine: its web server and worker may reach loopback.
    env.setdefault("ALLOW_LOCAL_CRM_URLS", os.environ.get("ALLOW_LOCAL_CRM_URLS", "1"))
    os.environ.update(env)
    children: list[subprocess.Popen[bytes]] = []
    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        from core.db.migrate import migrate
        from core.seed import seed_demo

        applied = migrate(os.environ["DATABASE_URL"])
        print(f"Migrations: {', '.join(applied) if applied else 'up to date'}", flush=True)
        created = seed_demo(os.environ["DATABASE_URL"], DEMO_EMAIL, DEMO_PASSWORD, clients=args.demo_clients)
        print("Demo data: " + ("created" if created else "already there"), flush=True)
        exe = [sys.executable, "-m", "webapp.cli"]
        sandbox_port = free_port()
        children.append(
            subprocess.Popen(
                [*exe, "sandbox", "--port", str(sandbox_port), "--size", str(args.sandbox_size)],
                preexec_fn=_die_with_parent,
            )
        )
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        _wait_until_answers(sandbox_url + "/_sandbox/health", children[-1], "The sandbox CRM")
        _point_demo_at_sandbox(os.environ["DATABASE_URL"], sandbox_url)
        print(f"Sandbox CRM: {sandbox_url} (integrations 'Sandbox Tave' and 'Sandbox Light Blue')", flush=True)
        children.append(
            subprocess.Popen([*exe, "worker", "--processes", "1", "--threads", "8"], preexec_fn=_die_with_parent)
        )
        children.append(subprocess.Popen([*exe, "web", "--port", str(settings.port)], preexec_fn=_die_with_parent))
        # Said once the server answers: a photographer who opens the address at once must not meet "connection
        # refused" while the web process is still starting.
        probe = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104 - only compared
        _wait_until_answers(f"http://{probe}:{settings.port}/health", children[-1], "The web server", timeout=60.0)
        print(
            f"\n  WedSync Hub is running at http://{settings.host}:{settings.port}/\n"
            f"  Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}\n  Press Ctrl-C to stop.\n",
            flush=True,
        )
        while not stop_requested.is_set():
            if any(child.poll() is not None for child in children):
                print("A WedSync process stopped unexpectedly; shutting everything down.", file=sys.stderr)
                break
            stop_requested.wait(0.5)
        return 0
    finally:
        print("\nStopping…", flush=True)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for stop in reversed(stops):
            stop()
        print("Stopped. Data is kept in var/.", flush=True)


def _wait_until_answers(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 30.0) -> None:
    """Until ``url`` answers 200: a child process's port, polled (there is nothing to wait on)."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"{what} stopped during start-up.")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start within {timeout:.0f} s.")
        time.sleep(0.1)


def _point_demo_at_sandbox(database_url: str, sandbox_url: str) -> None:
    from core.import_service import ensure_sandbox_integrations, find_supplier, open_pool

    with open_pool(database_url, max_size=1) as pool:
        supplier_id, _ = find_supplier(pool, DEMO_EMAIL)
        ensure_sandbox_integrations(pool, supplier_id, sandbox_url)


def cmd_sandbox(args: argparse.Namespace) -> int:
    print(f"Sandbox CRM on http://{args.host}:{args.port}/ (Tave at /v2, Light Blue at /api.php, key sandbox-key)")
    sys.stdout.flush()
    # The sandbox is the workers' code (jobs.sandbox): this process becomes it rather than importing it.
    sandbox = ["-m", "jobs.sandbox", "--host", args.host, "--port", str(args.port)]
    os.execv(sys.executable, [sys.executable, *sandbox, "--size", str(args.size), "--seed", str(args.seed)])  # noqa: S606


def _print_summary(summary: object) -> None:
    import msgspec

    data = msgspec.to_builtins(summary)
    print(msgspec.json.encode(data).decode(), flush=True)


def _exit_code(status: str) -> int:
    return 1 if status == "failed" else 0


def cmd_import(args: argparse.Namespace) -> int:
    from core.import_service import (
        ServiceError,
        create_file_job,
        enqueue,
        find_supplier,
        job_summary,
        open_pool,
        wait_for_job,
    )

    database_url = _require_env("DATABASE_URL")
    if not args.inline:
        _require_env("REDIS_URL")
    path = Path(args.file)
    try:
        with open_pool(database_url) as pool:
            supplier_id, region = find_supplier(pool, args.supplier)
            job_id = create_file_job(pool, supplier_id, region, path, source=args.source)
            if args.inline:  # the workers' runner in a child process: this side never imports the workers' code
                subprocess.run([sys.executable, "-m", "jobs.inline", str(supplier_id), str(job_id)], check=False)
                summary = job_summary(pool, supplier_id, job_id)
            else:
                enqueue("file_import", supplier_id, job_id)
                summary = wait_for_job(pool, supplier_id, job_id, timeout=args.timeout)
    except ServiceError as exc:
        print(f"wedsync import: {exc}", file=sys.stderr)
        return 2
    _print_summary(summary)
    return _exit_code(summary.status)


def cmd_sync(args: argparse.Namespace) -> int:
    from core.import_service import (
        ServiceError,
        create_sync_job,
        enqueue,
        find_supplier,
        integration_owner,
        open_pool,
        wait_for_job,
    )

    database_url = _require_env("DATABASE_URL")
    _require_env("REDIS_URL")
    kind: JobKind = "full_import" if args.full else "incremental_sync"
    try:
        with open_pool(database_url) as pool:
            if args.supplier:
                supplier_id, _ = find_supplier(pool, args.supplier)
            else:
                supplier_id, provider = integration_owner(database_url, args.integration_id)
                if provider != "tave":
                    raise ServiceError(
                        f"Integration {args.integration_id} is {provider}, which has no API to sync from."
                    )
            job_id = create_sync_job(pool, supplier_id, args.integration_id, kind)
            enqueue(kind, supplier_id, job_id)
            summary = wait_for_job(pool, supplier_id, job_id, timeout=args.timeout)
    except ServiceError as exc:
        print(f"wedsync sync: {exc}", file=sys.stderr)
        return 2
    _print_summary(summary)
    return _exit_code(summary.status)


# How every web process is served; the bench serves its bare hello-world with the same (bench/hello.py).
UVICORN_OPTIONS: dict[str, Any] = {
    "log_config": None,
    "access_log": False,
    "proxy_headers": False,
    # A phone between taps keeps its connection: on one bar of signal a new TCP (and TLS) handshake is the
    # slow part. uvicorn's 5 s default also races a client reusing the connection as the server closes it.
    "timeout_keep_alive": 75,
    "timeout_graceful_shutdown": 10,
}


def serve(app: str, *, host: str, port: int, workers: int, port_file: str | None = None) -> None:
    """``uvicorn.run`` of the factory ``app``, except that this process binds the socket itself: with ``port`` 0 the
    system picks a free one and it is written to ``port_file`` once listening, so no port is ever chosen by one
    process for another to bind later (a race another program on the machine can win)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    # An import string and a factory: with workers > 1 uvicorn spawns fresh interpreters that build the app.
    config = uvicorn.Config(app, factory=True, host=host, port=port, workers=workers, **UVICORN_OPTIONS)
    sock = config.bind_socket()
    if port_file:
        tmp = Path(port_file + ".tmp")
        tmp.write_text(str(sock.getsockname()[1]))
        tmp.replace(port_file)  # whole or absent: a reader never sees half a number
    server = uvicorn.Server(config)
    if workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        config.load_app()
        server.run(sockets=[sock])
        if not server.started:
            sys.exit(3)  # uvicorn's STARTUP_FAILURE


def cmd_web(args: argparse.Namespace) -> int:
    settings = load_settings()
    metrics_dir = _metrics_dir()
    wipe_dead_metrics(metrics_dir)
    port = args.port if args.port is not None else settings.port
    serve("webapp.app:create_app", host=args.host or settings.host, port=port, workers=args.workers,
          port_file=args.port_file)  # fmt: skip
    mark_dead_processes(metrics_dir, exiting=os.getpid())
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from dramatiq.cli import main as dramatiq_main

    metrics_dir = _metrics_dir()  # before the worker processes fork and import prometheus_client
    # A big import holds up to two connections while it writes (jobs.runner.WRITERS) and one to read its file.
    os.environ.setdefault("WORKER_DB_POOL_MAX", str(max(8, args.threads + 4)))
    sys.argv = ["dramatiq", "jobs.worker", "--processes", str(args.processes), "--threads", str(args.threads)]
    try:
        return int(dramatiq_main() or 0)  # type: ignore[no-untyped-call]
    finally:
        mark_dead_processes(metrics_dir)


def cmd_migrate(_: argparse.Namespace) -> int:
    from core.db.migrate import migrate

    applied = migrate(_require_env("DATABASE_URL"))
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from core.seed import seed_demo

    created = seed_demo(_require_env("DATABASE_URL"), DEMO_EMAIL, DEMO_PASSWORD, clients=args.demo_clients)
    print(f"demo supplier {DEMO_EMAIL}: " + ("created" if created else "already present"))
    return 0


def _require_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"{name} is not set. `wedsync run` starts embedded servers and sets it for you.")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wedsync", description="WedSync Hub")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="everything: databases (embedded unless *_URL set), migrations, worker, web")
    run.add_argument("--demo-clients", type=int, default=300)
    run.add_argument("--sandbox-size", type=int, default=1000, help="clients in the sandbox CRM")
    run.set_defaults(func=cmd_run)
    web = sub.add_parser("web", help="the web server")
    web.add_argument("--host", default=None)
    web.add_argument("--port", type=int, default=None)
    web.add_argument("--workers", type=int, default=1)
    web.add_argument("--port-file", default=None, help="with --port 0: where to write the port the system chose")
    web.set_defaults(func=cmd_web)
    worker = sub.add_parser("worker", help="a Dramatiq worker")
    worker.add_argument("--processes", type=int, default=1)
    worker.add_argument("--threads", type=int, default=8)
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    seed = sub.add_parser("seed-demo", help="create the demo supplier and clients")
    seed.add_argument("--demo-clients", type=int, default=300)
    seed.set_defaults(func=cmd_seed_demo)
    sandbox = sub.add_parser("sandbox", help="serve the sandbox CRM (Tave v2 subset and Light Blue receiver)")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--size", type=int, default=1000, help="number of clients, 10..1,000,000")
    sandbox.add_argument("--seed", type=int, default=1)
    sandbox.set_defaults(func=cmd_sandbox)
    imp = sub.add_parser("import", help="import a CSV/TSV or vCard file for a supplier and wait for the result")
    imp.add_argument("--supplier", required=True, metavar="EMAIL", help="the supplier's sign-in email")
    imp.add_argument("--source", choices=FILE_SOURCES, default=None)
    imp.add_argument("--inline", action="store_true", help="run the import in this process, without a worker")
    imp.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the job")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_import)
    sync = sub.add_parser("sync", help="sync a CRM integration (incremental unless --full) and wait for it")
    sync.add_argument("integration_id", type=int)
    sync.add_argument("--full", action="store_true", help="a full import instead of changes since the last sync")
    sync.add_argument("--supplier", default=None, metavar="EMAIL", help="the integration's supplier")
    sync.add_argument("--timeout", type=float, default=3600.0)
    sync.set_defaults(func=cmd_sync)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

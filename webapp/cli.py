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

from webapp.settings import load_settings

DEMO_EMAIL = "demo@wedsync.test"
DEMO_PASSWORD = "demo-wedding-2026"  # noqa: S105 - printed on purpose: the local demo login


def _die_with_parent() -> None:
    """Children of `wedsync run` get SIGTERM if the supervisor itself is killed (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _embedded_services(var_dir: Path) -> tuple[dict[str, str], list[Callable[[], None]]]:
    """Start what DATABASE_URL / REDIS_URL don't point at; return env to pass on and stop callbacks."""
    warnings.filterwarnings("ignore", module="platformdirs")
    from webapp.embedded import EmbeddedPostgres, EmbeddedValkey

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
    env, stops = _embedded_services(settings.var_dir)
    os.environ.update(env)
    children: list[subprocess.Popen[bytes]] = []
    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        from webapp.db.migrate import migrate
        from webapp.seed import seed_demo

        applied = migrate(os.environ["DATABASE_URL"])
        print(f"Migrations: {', '.join(applied) if applied else 'up to date'}", flush=True)
        created = seed_demo(os.environ["DATABASE_URL"], DEMO_EMAIL, DEMO_PASSWORD, clients=args.demo_clients)
        print("Demo data: " + ("created" if created else "already there"), flush=True)
        exe = [sys.executable, "-m", "webapp.cli"]
        children.append(
            subprocess.Popen([*exe, "worker", "--processes", "1", "--threads", "8"], preexec_fn=_die_with_parent)
        )
        children.append(subprocess.Popen([*exe, "web", "--port", str(settings.port)], preexec_fn=_die_with_parent))
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


def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    settings = load_settings()
    uvicorn.run(
        "webapp.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from dramatiq.cli import main as dramatiq_main

    sys.argv = ["dramatiq", "jobs.worker", "--processes", str(args.processes), "--threads", str(args.threads)]
    return int(dramatiq_main() or 0)  # type: ignore[no-untyped-call]


def cmd_migrate(_: argparse.Namespace) -> int:
    from webapp.db.migrate import migrate

    applied = migrate(_require_env("DATABASE_URL"))
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from webapp.seed import seed_demo

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
    run.set_defaults(func=cmd_run)
    web = sub.add_parser("web", help="the web server")
    web.add_argument("--host", default=None)
    web.add_argument("--port", type=int, default=None)
    web.add_argument("--workers", type=int, default=1)
    web.set_defaults(func=cmd_web)
    worker = sub.add_parser("worker", help="a Dramatiq worker")
    worker.add_argument("--processes", type=int, default=1)
    worker.add_argument("--threads", type=int, default=8)
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    seed = sub.add_parser("seed-demo", help="create the demo supplier and clients")
    seed.add_argument("--demo-clients", type=int, default=300)
    seed.set_defaults(func=cmd_seed_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

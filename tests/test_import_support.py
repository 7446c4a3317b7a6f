"""Shared pieces for the import integration tests (no tests here).

Import tests run their own Dramatiq worker subprocesses on a Redis database of their own (not the
session worker's), so each module controls the worker's environment (heartbeat timeout, CRM timeout,
row cap) and a test that kills a worker knows which one holds its job. Jobs are created with the same
helpers the ``wedsync import`` / ``wedsync sync`` commands use (``core.import_service``).
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from cryptography.fernet import Fernet
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from psycopg_pool import ConnectionPool

from core.import_service import JobSummary, create_file_job, job_summary, open_pool
from core.security import SecretBox
from tests.fixtures import ROOT, Services, wait_for

IMPORT_REDIS_DB = 9


def redis_db_url(url: str, db: int) -> str:
    base = url.rsplit("/", 1)[0] if url.count("/") >= 3 else url
    return f"{base}/{db}"


@dataclass
class ImportWorker:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole worker (supervisor and its worker process): a machine that died."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class ImportEnv:
    services: Services
    redis_url: str
    pool: ConnectionPool
    encryption_key: str
    tmp: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: list[ImportWorker] = field(default_factory=list)
    _broker: RedisBroker | None = None

    def env(self, **extra: str) -> dict[str, str]:
        settings = {
            "REDIS_URL": self.redis_url,
            "ENCRYPTION_KEYS": self.encryption_key,
            "WORKER_HEARTBEAT_TIMEOUT_MS": "3000",
            "BROKER_MAINTENANCE_CHANCE": "1000000",
            "LOG_LEVEL": "INFO",
            "ALLOW_LOCAL_CRM_URLS": "1",  # the sandbox CRM runs on this machine
        }
        return self.services.env(**{**settings, **self.extra_env, **extra})

    def start_worker(self, **extra: str) -> ImportWorker:
        log = self.tmp / f"worker-{len(self.workers)}.log"
        redis_url = extra.get("REDIS_URL", self.redis_url)
        started = time.time()
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "webapp.cli", "worker", "--processes", "1", "--threads", "4"],
                env=self.env(**extra),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = ImportWorker(proc, log)
        self.workers.append(worker)
        from core.queue import HEARTBEAT_KEY

        client = redis.Redis.from_url(redis_url)

        def beating() -> bool:
            if proc.poll() is not None:
                raise AssertionError("worker exited during start-up:\n" + worker.output())
            return bool(client.zrangebyscore(HEARTBEAT_KEY, started, "+inf"))

        wait_for(beating, 60, "the import worker's first heartbeat")
        return worker

    @property
    def broker(self) -> RedisBroker:
        if self._broker is None:
            self._broker = RedisBroker(url=self.redis_url, namespace="wedsync")
        return self._broker

    def send(self, kind: str, supplier_id: int, job_id: int) -> None:
        """What ``webapp.queries.jobs.enqueue`` sends (ids only), on this module's Redis database."""
        self.broker.enqueue(
            Message(queue_name="imports", actor_name=kind, args=(supplier_id, job_id), kwargs={}, options={})
        )

    def encrypt(self, secret: str) -> bytes:
        return SecretBox((self.encryption_key,)).encrypt(secret)

    # --- suppliers, integrations and jobs ------------------------------------------------------
    def supplier(self, region: str = "GB") -> tuple[int, str]:
        email = f"imp-{secrets.token_hex(6)}@example.com"
        with psycopg.connect(self.services.database_url) as conn:
            row = conn.execute(
                "INSERT INTO suppliers (business_name, email, password_hash, default_region) "
                "VALUES ('Import Test Studio', %s, 'x', %s) RETURNING id",
                [email, region],
            ).fetchone()
        assert row is not None
        return int(row[0]), email

    def integration(self, supplier_id: int, provider: str, base_url: str, key: str) -> int:
        with self.scoped(supplier_id) as conn:
            row = conn.execute(
                "INSERT INTO crm_integrations (supplier_id, provider, name, base_url, secret_encrypted) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                [supplier_id, provider, f"Test {provider}", base_url, self.encrypt(key)],
            ).fetchone()
        assert row is not None
        return int(row[0])

    def scoped(self, supplier_id: int) -> Any:
        from core.db.pool import tenant_sync

        return tenant_sync(self.pool, supplier_id)

    def file_job(self, supplier_id: int, path: Path, source: str | None = None) -> int:
        return create_file_job(self.pool, supplier_id, "GB", path, source=source)

    def sync_job(self, supplier_id: int, integration_id: int, kind: str) -> int:
        from core.import_service import create_sync_job

        return create_sync_job(self.pool, supplier_id, integration_id, kind)

    def summary(self, supplier_id: int, job_id: int) -> JobSummary:
        return job_summary(self.pool, supplier_id, job_id)

    def wait_done(self, supplier_id: int, job_id: int, timeout: float = 60) -> JobSummary:
        def done() -> JobSummary | None:
            for w in self.workers:
                if w.process.poll() is not None and w.process.returncode not in (-9, -15, 0):
                    raise AssertionError("a worker died:\n" + w.output()[-3000:])
            s = self.summary(supplier_id, job_id)
            return s if s.finished else None

        return wait_for(done, timeout, f"job {job_id} to finish")  # type: ignore[no-any-return]

    def run(self, supplier_id: int, job_id: int, kind: str = "file_import", timeout: float = 60) -> JobSummary:
        self.send(kind, supplier_id, job_id)
        return self.wait_done(supplier_id, job_id, timeout)

    def import_file(self, supplier_id: int, path: Path, source: str | None = None) -> JobSummary:
        return self.run(supplier_id, self.file_job(supplier_id, path, source))

    # --- reading back ----------------------------------------------------------------------------
    def rows(self, supplier_id: int, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.scoped(supplier_id) as conn:
            return conn.execute(sql, params).fetchall()

    def clients(self, supplier_id: int, source: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM clients WHERE supplier_id = %s" + (" AND source = %s" if source else "")
        sql += " ORDER BY external_id"
        with self.scoped(supplier_id) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            return cur.execute(sql, [supplier_id, source] if source else [supplier_id]).fetchall()

    def errors(self, supplier_id: int, job_id: int) -> list[tuple[Any, ...]]:
        return self.rows(
            supplier_id, "SELECT line, field, reason FROM sync_job_errors WHERE job_id = %s ORDER BY line", [job_id]
        )


def import_env_fixture(
    tmp_path_factory: pytest.TempPathFactory, services: Services, **extra: str
) -> Iterator[ImportEnv]:
    """Body of each module's ``imports`` fixture: a pool, a Redis db, and workers stopped at the end."""
    url = redis_db_url(services.redis_url, IMPORT_REDIS_DB)
    redis.Redis.from_url(url).flushdb()
    with open_pool(services.database_url, max_size=4) as pool:
        env = ImportEnv(
            services=services,
            redis_url=url,
            pool=pool,
            encryption_key=Fernet.generate_key().decode(),
            tmp=tmp_path_factory.mktemp("imports"),
            extra_env=dict(extra),
        )
        try:
            yield env
        finally:
            for w in env.workers:
                w.stop()
            if env._broker is not None:
                env._broker.close()


def write_csv(
    path: Path, header: list[str], rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8"
) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def couples_csv(path: Path, n: int, *, start: int = 0, prefix: str = "c") -> Path:
    """A clean generic CSV of ``n`` couples with ids ``{prefix}{i}``."""
    header = [
        "ID",
        "First Name",
        "Last Name",
        "Email",
        "Partner First Name",
        "Partner Last Name",
        "Wedding Date",
        "Venue",
    ]
    rows = [
        [f"{prefix}{i}", f"Alex{i}", f"Smith{i % 97}", f"alex{i}@example.com", f"Sam{i}", "Jones",
         f"2027-{i % 12 + 1:02d}-{i % 28 + 1:02d}", f"Venue {i % 13}"]
        for i in range(start, start + n)
    ]  # fmt: skip
    return write_csv(path, header, rows)

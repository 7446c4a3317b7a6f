"""Creating and following import jobs from outside the web app: the ``wedsync`` CLI, tests and benchmarks.

Same rows and same SQL as the web pages (``core.job_lifecycle``): a ``sync_jobs`` row with the
confirmed mapping in ``options``, the upload in 1 MiB ``import_upload_chunks``, then a message with
ids only. Everything here is synchronous (psycopg), run as ``wedsync_app`` inside supplier-scoped
transactions so row-level security applies exactly as it does for the web.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import msgspec
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from core import job_lifecycle as lifecycle
from core.db.pool import make_sync_pool, tenant_sync
from core.importing.mapping import Mapping
from core.importing.readers import open_table
from core.importing.records import ImportFileError
from core.importing.vcard import VCARD_KEYS
from core.job_lifecycle import CHUNK_BYTES, CRM_JOB_KINDS, TERMINAL, JobKind
from core.queue import send_job
from core.security import SecretBox
from core.settings import settings
from core.sources import FILE_SOURCES, file_format

SANDBOX_API_KEY = "sandbox-key"
SANDBOX_TAVE_NAME = "Sandbox Tave"
SANDBOX_LIGHTBLUE_NAME = "Sandbox Light Blue"

SUPPLIER_BY_EMAIL = "SELECT id, default_region FROM suppliers WHERE lower(email) = lower(%s)"
INTEGRATION_OWNER = "SELECT supplier_id, provider FROM crm_integrations WHERE id = %s"
INTEGRATION_PROVIDER = "SELECT provider FROM crm_integrations WHERE id = %s"
JOB_SUMMARY = """
SELECT j.id, j.kind, j.source, j.status, j.total, j.processed, j.created_count, j.updated_count,
       j.unchanged_count, j.failed_count, j.message, j.attempts,
       (SELECT count(*) FROM sync_job_errors e WHERE e.job_id = j.id) AS errors,
       (SELECT count(*) FROM sync_job_duplicates d WHERE d.job_id = j.id) AS duplicates
FROM sync_jobs j WHERE j.id = %s
"""
FIND_INTEGRATION = "SELECT id FROM crm_integrations WHERE supplier_id = app_supplier_id() AND name = %s ORDER BY id"
UPDATE_INTEGRATION = """
UPDATE crm_integrations SET provider = %(provider)s, base_url = %(base_url)s, secret_encrypted = %(secret)s,
    updated_at = now()
WHERE id = %(id)s
"""
INSERT_INTEGRATION = """
INSERT INTO crm_integrations (supplier_id, provider, name, base_url, secret_encrypted)
VALUES (app_supplier_id(), %(provider)s, %(name)s, %(base_url)s, %(secret)s)
RETURNING id
"""


class ServiceError(Exception):
    """Something the person at the terminal must fix; ``str(exc)`` says what, in plain words."""


class JobSummary(msgspec.Struct, frozen=True):
    job_id: int
    kind: str
    source: str
    status: str
    total: int | None
    processed: int
    created: int
    updated: int
    unchanged: int
    failed: int
    message: str | None
    attempts: int
    errors: int
    duplicates: int

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


DATABASE_DOWN = "WedSync can't reach its database right now. Check that PostgreSQL is running, then try again."


@contextmanager
def open_pool(database_url: str, max_size: int = 4) -> Iterator[ConnectionPool]:
    pool = make_sync_pool(database_url, min_size=1, max_size=max_size, statement_timeout_ms=600_000)
    try:
        pool.open(wait=True, timeout=30)
    except PoolTimeout as exc:
        pool.close()
        raise ServiceError(DATABASE_DOWN) from exc
    try:
        yield pool
    finally:
        pool.close()


def find_supplier(pool: ConnectionPool, email: str) -> tuple[int, str]:
    """(supplier id, default region) for a sign-in email; ServiceError when there is no such supplier."""
    with pool.connection() as conn:
        row = conn.execute(SUPPLIER_BY_EMAIL, [email.strip()]).fetchone()
    if row is None:
        raise ServiceError(f"No supplier signs in with {email!r}. Check the email address, or sign up first.")
    return int(row[0]), str(row[1])


def detect_format(path: Path, source: str | None) -> str:
    return file_format(path.name, source)


def suggested_mapping(stream: IO[bytes], file_format: str, preset: str, region: str) -> dict[str, Any]:
    """The mapping the upload page would suggest. An unreadable file gets an empty mapping: the job
    then fails with the reader's own plain-words message, the same one the worker would give."""
    if file_format == "vcard":
        headers = list(VCARD_KEYS)
    else:
        try:
            headers = open_table(stream).headers  # type: ignore[arg-type]
        except ImportFileError:
            headers = []
    mapping = Mapping.suggest(headers, preset, region)
    return msgspec.to_builtins(mapping)  # type: ignore[no-any-return]


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_BYTES):
        yield chunk


def create_file_job(
    pool: ConnectionPool,
    supplier_id: int,
    region: str,
    path: Path,
    *,
    source: str | None = None,
    mapping: dict[str, Any] | None = None,
) -> int:
    """Store the file and a queued ``file_import`` job in one transaction; returns the job id.

    The caller sends the message (``enqueue``) after this returns, i.e. after the commit."""
    if not path.is_file():
        raise ServiceError(f"There is no file at {str(path)!r}.")
    file_format = detect_format(path, source)
    preset = source or ("vcard" if file_format == "vcard" else "csv")
    if preset not in FILE_SOURCES:
        raise ServiceError(f"Unknown source {preset!r}; use one of {', '.join(FILE_SOURCES)}.")
    with path.open("rb") as head:
        chosen = mapping if mapping is not None else suggested_mapping(head, file_format, preset, region)
    options = {"format": file_format, "mapping": chosen, "filename": path.name, "preset": preset}
    with tenant_sync(pool, supplier_id) as conn:
        job_id = lifecycle.create(conn, kind="file_import", source=preset, integration_id=None, options=options)
        with path.open("rb") as stream:
            for seq, chunk in enumerate(_chunks(stream)):
                lifecycle.store_upload_chunk(conn, job_id, seq, chunk)
    return job_id


def integration_owner(database_url: str, integration_id: int) -> tuple[int, str]:
    """(supplier id, provider) of an integration, read as the database owner (operator tooling only)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(INTEGRATION_OWNER, [integration_id]).fetchone()
    if row is None:
        raise ServiceError(f"There is no CRM integration with id {integration_id}.")
    return int(row[0]), str(row[1])


def create_sync_job(pool: ConnectionPool, supplier_id: int, integration_id: int, kind: JobKind) -> int:
    if kind not in CRM_JOB_KINDS:
        raise ServiceError(f"Unknown job kind {kind!r}.")
    with tenant_sync(pool, supplier_id) as conn:
        found = conn.execute(INTEGRATION_PROVIDER, [integration_id]).fetchone()
        if found is None:
            raise ServiceError(f"There is no CRM integration with id {integration_id} for this supplier.")
        return lifecycle.create(conn, kind=kind, source=str(found[0]), integration_id=integration_id)


def enqueue(kind: JobKind, supplier_id: int, job_id: int) -> None:
    send_job(kind, supplier_id, job_id)


def job_summary(pool: ConnectionPool, supplier_id: int, job_id: int) -> JobSummary:
    with tenant_sync(pool, supplier_id) as conn:
        row = conn.execute(JOB_SUMMARY, [job_id]).fetchone()
    if row is None:
        raise ServiceError(f"There is no job {job_id} for this supplier.")
    return JobSummary(*row)


def wait_for_job(
    pool: ConnectionPool, supplier_id: int, job_id: int, *, timeout: float = 3600.0, poll: float = 0.2
) -> JobSummary:
    """Poll the job row (PostgreSQL is the truth) until it reaches a final status."""
    deadline = time.monotonic() + timeout
    while True:
        summary = job_summary(pool, supplier_id, job_id)
        if summary.finished:
            return summary
        if time.monotonic() > deadline:
            raise ServiceError(f"Job {job_id} did not finish within {timeout:.0f} s (last: {summary.message}).")
        time.sleep(poll)  # the CLI polls the row the web pages read; there is no push channel for it here


def ensure_sandbox_integrations(
    pool: ConnectionPool, supplier_id: int, sandbox_url: str, encryption_keys: tuple[str, ...] | None = None
) -> dict[str, int]:
    """Give a supplier "Sandbox Tave" and "Sandbox Light Blue" integrations pointing at ``sandbox_url``.

    Idempotent: the sandbox listens on a new port at each start, so existing rows are repointed,
    never duplicated. The key is encrypted like any CRM secret."""
    box = SecretBox(encryption_keys or settings().encryption_keys)
    base = sandbox_url.rstrip("/")
    wanted = (
        (SANDBOX_TAVE_NAME, "tave", f"{base}/v2"),
        (SANDBOX_LIGHTBLUE_NAME, "lightblue", f"{base}/api.php"),
    )
    ids: dict[str, int] = {}
    with tenant_sync(pool, supplier_id) as conn:
        # One writer at a time per supplier, so two `wedsync run`s never both insert.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('sandbox-integrations'), %s::int)", [supplier_id])
        for name, provider, url in wanted:
            params = {"provider": provider, "name": name, "base_url": url, "secret": box.encrypt(SANDBOX_API_KEY)}
            found = conn.execute(FIND_INTEGRATION, [name]).fetchone()
            if found is None:
                row = conn.execute(INSERT_INTEGRATION, params).fetchone()
                assert row is not None
                ids[name] = int(row[0])
            else:
                conn.execute(UPDATE_INTEGRATION, {**params, "id": found[0]})
                ids[name] = int(found[0])
    return ids

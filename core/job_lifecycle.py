"""The job lifecycle: a job's kinds and states, their transitions, and every write to ``sync_jobs``.

            ┌──────────── cancel ──────────────┐
 draft ──► queued ──► running ──► succeeded | partially_succeeded | failed | cancelled
             ▲   │      ▲   │
             │   │      └───┘  (redelivered after a crash, or tried again after a transient error: from its checkpoint)
             └── retry ◄── failed | cancelled (RETRYABLE: what it reads is still there)

This is the one definition of the states (the migrations' CHECK is tested against it) and the one module that
writes ``sync_jobs``: the workers' synchronous functions and the web app's ``async`` ones sit side by side, built on
the same statements. Reads for pages live with the pages' queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

import msgspec
import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from core.importing.records import RowError, RowWarning

JobStatus = Literal["draft", "queued", "running", "succeeded", "partially_succeeded", "failed", "cancelled"]
JobKind = Literal["file_import", "full_import", "incremental_sync", "export_to_crm"]
JOB_KINDS: tuple[JobKind, ...] = get_args(JobKind)
CRM_JOB_KINDS: tuple[JobKind, ...] = ("full_import", "incremental_sync", "export_to_crm")
# A row of this kind is a round trip through the queue and a worker (the ``ping`` actor), not an import.
PING_KIND = "ping"
# The states a photographer can filter the job list by (a draft is an upload not yet confirmed: never listed).
JOB_STATES: tuple[JobStatus, ...] = ("queued", "running", "succeeded", "partially_succeeded", "failed", "cancelled")
ACTIVE: frozenset[JobStatus] = frozenset({"queued", "running"})
TERMINAL: frozenset[JobStatus] = frozenset({"succeeded", "partially_succeeded", "failed", "cancelled"})
# The Dramatiq queue every job kind's actor listens on; a job's actor is named after its kind.
JOB_QUEUE = "imports"
CHUNK_BYTES = 1024 * 1024  # an uploaded file is stored in rows of this size (import_upload_chunks)


def is_terminal(status: str) -> bool:
    return status in TERMINAL


def as_kind(value: str) -> JobKind:
    """A kind read from a form or a row, checked."""
    if value not in JOB_KINDS:
        raise ValueError(f"not a job kind: {value!r}")
    return value


class BatchCounts(msgspec.Struct, frozen=True):
    """What one committed batch did to the studio's clients."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: BatchCounts) -> BatchCounts:
        return BatchCounts(self.created + other.created, self.updated + other.updated, self.unchanged + other.unchanged)


class JobCounts(msgspec.Struct, frozen=True):
    """The job's state as a progress event reports it."""

    status: str
    cancel_requested: bool
    processed: int
    total: int | None
    created_count: int
    updated_count: int
    unchanged_count: int
    failed_count: int
    message: str | None


_COUNTS = (
    "status, cancel_requested, processed, total, created_count, updated_count, unchanged_count, failed_count, message"
)


class JobRow(msgspec.Struct, frozen=True):
    id: int
    supplier_id: int
    integration_id: int | None
    kind: str
    source: str
    status: str
    options: dict[str, Any]
    checkpoint: dict[str, Any] | None
    cancel_requested: bool
    attempts: int
    processed: int


_JOB_COLUMNS = (
    "id, supplier_id, integration_id, kind, source, status, options, checkpoint, cancel_requested, attempts, processed"
)
GET_JOB = f"SELECT {_JOB_COLUMNS} FROM sync_jobs WHERE id = %(id)s"
START_JOB = f"""
UPDATE sync_jobs
SET status = 'running', started_at = coalesce(started_at, now()), attempts = attempts + 1, updated_at = now(),
    message = CASE WHEN attempts > 0 THEN 'Picking up where we left off.' ELSE 'Starting…' END
WHERE id = %(id)s AND status IN ('queued', 'running') AND NOT cancel_requested
RETURNING {_JOB_COLUMNS}
"""
CANCEL_IF_REQUESTED = """
UPDATE sync_jobs SET status = 'cancelled', finished_at = now(), updated_at = now(),
    message = 'Cancelled. Everything imported before that is kept.'
WHERE id = %(id)s AND cancel_requested AND status IN ('queued', 'running')
RETURNING id
"""
COMMIT_BATCH = f"""
UPDATE sync_jobs
SET processed = processed + %(processed)s,
    created_count = created_count + %(created)s,
    updated_count = updated_count + %(updated)s,
    unchanged_count = unchanged_count + %(unchanged)s,
    failed_count = failed_count + %(failed)s,
    total = coalesce(%(total)s, total),
    checkpoint = %(checkpoint)s,
    message = %(message)s,
    updated_at = now()
WHERE id = %(id)s AND status = 'running' AND (%(attempt)s::integer IS NULL OR attempts = %(attempt)s)
RETURNING {_COUNTS}
"""
INSERT_ERROR = """
INSERT INTO sync_job_errors (supplier_id, job_id, line, field, reason, raw, severity)
VALUES (app_supplier_id(), %s, %s, %s, %s, %s, %s)
"""
WARNED_ROWS = "SELECT count(DISTINCT line) FROM sync_job_errors WHERE job_id = %s AND severity = 'warning'"
SET_MESSAGE = "UPDATE sync_jobs SET message = %(message)s, updated_at = now() WHERE id = %(id)s"
CANCEL_REQUESTED = "SELECT cancel_requested FROM sync_jobs WHERE id = %(id)s"
GET_COUNTS = f"SELECT {_COUNTS} FROM sync_jobs WHERE id = %(id)s"
ADD_EVENT = """
INSERT INTO sync_job_events (supplier_id, job_id, status, processed, message)
SELECT supplier_id, id, status, processed, %(message)s FROM sync_jobs WHERE id = %(id)s
"""
FINISH = """
UPDATE sync_jobs
SET status = CASE WHEN %(status)s = 'succeeded' AND failed_count > 0 THEN 'partially_succeeded' ELSE %(status)s END,
    message = %(message)s, finished_at = now(), updated_at = now()
WHERE id = %(id)s AND status = 'running'
RETURNING status
"""
DELETE_UPLOAD = "DELETE FROM import_upload_chunks WHERE job_id = %(id)s"
DELETE_READ_PAGES = "DELETE FROM sync_job_pages WHERE job_id = %(id)s"
SAVE_READ_PAGE = """
INSERT INTO sync_job_pages (supplier_id, job_id, resource, page, payload)
VALUES (app_supplier_id(), %(id)s, %(resource)s, %(page)s, %(payload)s)
ON CONFLICT (job_id, resource, page) DO UPDATE SET payload = EXCLUDED.payload
"""
READ_PAGES = "SELECT payload FROM sync_job_pages WHERE job_id = %(id)s AND resource = %(resource)s ORDER BY page"
READ_CHUNK = "SELECT data FROM import_upload_chunks WHERE job_id = %(id)s AND seq = %(seq)s"


def load(conn: psycopg.Connection, job_id: int) -> JobRow | None:
    with conn.cursor(row_factory=class_row(JobRow)) as cur:
        return cur.execute(GET_JOB, {"id": job_id}).fetchone()


def start(conn: psycopg.Connection, job_id: int) -> JobRow | None:
    """Move a queued (or interrupted running) job to running; None when it is finished or cancelled."""
    if conn.execute(CANCEL_IF_REQUESTED, {"id": job_id}).fetchone():
        add_event(conn, job_id, "Cancelled before it started.")
        return None
    with conn.cursor(row_factory=class_row(JobRow)) as cur:
        job = cur.execute(START_JOB, {"id": job_id}).fetchone()
    if job is not None:
        add_event(conn, job_id, "Started." if job.attempts == 1 else "Picking up where we left off.")
    return job


class JobTakenOver(Exception):
    """The job is no longer this run's: it was ended while this run was stuck (the sweep ends a stalled job failed,
    and "Try again" may have started it afresh), or another delivery started it again (``attempts`` moved on). The
    batch must not land: raised from ``commit_batch``, it rolls back the batch's transaction."""


def commit_batch(
    conn: psycopg.Connection,
    job_id: int,
    *,
    attempt: int | None = None,
    counts: BatchCounts,
    errors: list[RowError],
    warnings: Sequence[RowWarning] = (),
    processed: int,
    checkpoint: dict[str, Any],
    total: int | None,
    message: str,
) -> JobCounts:
    """Record a committed batch's effect and a timeline entry; the counts say if a cancel was asked for. ``attempt``:
    the try this run started as (``JobRow.attempts``); the batch is refused (``JobTakenOver``) unless the job is still
    running as that try.
    ``warnings`` (fields shortened in rows that were imported) are listed with the errors but not counted failed."""
    if errors or warnings:
        with conn.cursor() as cur:
            cur.executemany(
                INSERT_ERROR,
                [(job_id, e.line, e.field, e.reason, Jsonb(e.raw), "error") for e in errors]
                + [(job_id, w.line, w.field, w.reason, None, "warning") for w in warnings],
            )
    with conn.cursor(row_factory=class_row(JobCounts)) as cur:
        row = cur.execute(COMMIT_BATCH, {
            "id": job_id, "processed": processed, "created": counts.created, "updated": counts.updated,
            "unchanged": counts.unchanged, "failed": len(errors), "total": total, "checkpoint": Jsonb(checkpoint),
            "message": message, "attempt": attempt,
        }).fetchone()  # fmt: skip
    if row is None:
        raise JobTakenOver(job_id)
    conn.execute(ADD_EVENT, {"id": job_id, "message": message})
    return row


def cancel_requested(conn: psycopg.Connection, job_id: int) -> bool:
    row = conn.execute(CANCEL_REQUESTED, {"id": job_id}).fetchone()
    return bool(row and row[0])


def warned_rows(conn: psycopg.Connection, job_id: int) -> int:
    """Rows imported with a field left out or shortened."""
    row = conn.execute(WARNED_ROWS, [job_id]).fetchone()
    return int(row[0]) if row else 0


def save_read_page(conn: psycopg.Connection, job_id: int, resource: str, page: int, payload: bytes) -> None:
    """Keep one page a CRM import read before its batches, so its next attempt need not read it again."""
    conn.execute(SAVE_READ_PAGE, {"id": job_id, "resource": resource, "page": page, "payload": payload})


def read_pages(conn: psycopg.Connection, job_id: int, resource: str) -> list[bytes]:
    """The pages of ``resource`` earlier attempts of the job kept, in order."""
    return [bytes(r[0]) for r in conn.execute(READ_PAGES, {"id": job_id, "resource": resource}).fetchall()]


def counts(conn: psycopg.Connection, job_id: int) -> JobCounts | None:
    with conn.cursor(row_factory=class_row(JobCounts)) as cur:
        return cur.execute(GET_COUNTS, {"id": job_id}).fetchone()


def add_event(conn: psycopg.Connection, job_id: int, message: str) -> None:
    conn.execute(ADD_EVENT, {"id": job_id, "message": message})


def set_message(conn: psycopg.Connection, job_id: int, message: str) -> None:
    set_status_line(conn, job_id, message)
    add_event(conn, job_id, message)


def set_status_line(conn: psycopg.Connection, job_id: int, message: str) -> None:
    """The job's current status line only, with no timeline entry (for a line that changes every few seconds)."""
    conn.execute(SET_MESSAGE, {"id": job_id, "message": message})


def finish(
    conn: psycopg.Connection, job_id: int, status: str, message: str, *, keep_upload: bool = False
) -> str | None:
    """Settle the job. ``keep_upload``: it failed for a reason other than the file (a crash, retries used up),
    so "Try again" must be able to read the file again; otherwise the uploaded file (and the CRM pages kept for a
    next attempt) are deleted now."""
    row = conn.execute(FINISH, {"id": job_id, "status": status, "message": message}).fetchone()
    if not keep_upload:
        conn.execute(DELETE_UPLOAD, {"id": job_id})
        conn.execute(DELETE_READ_PAGES, {"id": job_id})
    add_event(conn, job_id, message)
    return str(row[0]) if row else None


MARK_DEAD = """
UPDATE sync_jobs SET status = 'failed', finished_at = now(), updated_at = now(), message = %(message)s
WHERE id = %(id)s AND status IN ('queued', 'running')
RETURNING id
"""


def mark_dead(conn: psycopg.Connection, job_id: int, message: str) -> bool:
    """The job's message ran out of retries (Dramatiq dead-lettered it): show it as failed, retryable."""
    if conn.execute(MARK_DEAD, {"id": job_id, "message": message}).fetchone():
        add_event(conn, job_id, message)
        return True
    return False


def cancel(conn: psycopg.Connection, job_id: int) -> None:
    """End a running job whose cancel was asked for. Its upload is kept, so "Try again" can resume it from its
    checkpoint, until it is tried again or ``UPLOAD_KEEP_DAYS`` pass (``jobs.housekeeping``)."""
    if conn.execute(CANCEL_IF_REQUESTED, {"id": job_id}).fetchone():
        add_event(conn, job_id, "Cancelled. Everything imported before that is kept.")


# -- creating, queueing, cancelling and retrying (the web app, the CLI) ------------------------------------------
CREATE_JOB = """
INSERT INTO sync_jobs (supplier_id, integration_id, kind, source, status, options)
VALUES (app_supplier_id(), %(integration_id)s, %(kind)s, %(source)s, %(status)s, %(options)s)
RETURNING id
"""
INSERT_CHUNK = """
INSERT INTO import_upload_chunks (supplier_id, job_id, seq, data) VALUES (app_supplier_id(), %s, %s, %s)
"""
QUEUE_DRAFT = """
UPDATE sync_jobs SET status = 'queued', options = %(options)s, updated_at = now()
WHERE id = %(id)s AND status = 'draft' RETURNING id
"""
REQUEST_CANCEL = """
UPDATE sync_jobs SET cancel_requested = true, updated_at = now(),
    status = CASE WHEN status IN ('queued', 'draft') THEN 'cancelled' ELSE status END,
    finished_at = CASE WHEN status IN ('queued', 'draft') THEN now() ELSE finished_at END,
    message = CASE WHEN status IN ('queued', 'draft') THEN 'Cancelled before it started.'
                   ELSE 'Stopping after the current batch…' END
WHERE id = %(id)s AND status IN ('draft', 'queued', 'running')
RETURNING status
"""
# Which finished jobs "Try again" may send again: a failed one, or one the photographer stopped, if what it reads
# is still there (a file import's upload is kept for UPLOAD_KEEP_DAYS; a draft never had its mapping confirmed).
# Shared with the job page's query, so the button shows exactly when the retry will do something.
RETRYABLE = """(status = 'failed' OR (status = 'cancelled' AND (kind <> 'file_import' OR (options ? 'mapping'
    AND EXISTS (SELECT FROM import_upload_chunks u WHERE u.job_id = sync_jobs.id AND u.seq = 0)))))"""
# One job (``id``), or every failed one (``id`` NULL: a stopped job is only tried again on its own page).
REQUEUE_FAILED = f"""
UPDATE sync_jobs SET status = 'queued', cancel_requested = false, attempts = 0, finished_at = NULL,
    message = 'Queued to try again.', updated_at = now()
WHERE supplier_id = %(sid)s AND {RETRYABLE}
  AND (id = %(id)s OR (%(id)s::bigint IS NULL AND status = 'failed'))
RETURNING id, kind
"""
MARK_UNDONE = "UPDATE sync_jobs SET undone_at = now(), updated_at = now() WHERE id = %(id)s AND undone_at IS NULL"
MARK_PING_DONE = """
UPDATE sync_jobs
SET status = 'succeeded', processed = 1, started_at = now(), finished_at = now(), updated_at = now(),
    message = 'The background worker is running.'
WHERE id = %s AND status = 'queued'
"""


def _new_job(
    kind: JobKind, source: str, integration_id: int | None, options: dict[str, Any] | None, status: JobStatus
) -> dict[str, Any]:
    return {
        "integration_id": integration_id, "kind": kind, "source": source, "status": status,
        "options": Jsonb(options or {}),
    }  # fmt: skip


def create(
    conn: psycopg.Connection,
    *,
    kind: JobKind,
    source: str,
    integration_id: int | None,
    options: dict[str, Any] | None = None,
    status: JobStatus = "queued",
) -> int:
    row = conn.execute(CREATE_JOB, _new_job(kind, source, integration_id, options, status)).fetchone()
    assert row is not None
    return int(row[0])


def store_upload_chunk(conn: psycopg.Connection, job_id: int, seq: int, data: bytes) -> None:
    conn.execute(INSERT_CHUNK, [job_id, seq, data])


def mark_ping_done(conn: psycopg.Connection, job_id: int) -> None:
    conn.execute(MARK_PING_DONE, [job_id])


async def create_async(
    conn: psycopg.AsyncConnection,
    *,
    kind: JobKind,
    source: str,
    integration_id: int | None,
    options: dict[str, Any] | None = None,
    status: JobStatus = "queued",
) -> int:
    cur = await conn.execute(CREATE_JOB, _new_job(kind, source, integration_id, options, status))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def store_upload(conn: psycopg.AsyncConnection, job_id: int, chunks: list[bytes]) -> None:
    async with conn.cursor() as cur:
        await cur.executemany(INSERT_CHUNK, [(job_id, seq, data) for seq, data in enumerate(chunks)])


async def queue_draft(conn: psycopg.AsyncConnection, job_id: int, options: dict[str, Any]) -> bool:
    """An upload the photographer confirmed (mapping chosen): draft → queued."""
    cur = await conn.execute(QUEUE_DRAFT, {"id": job_id, "options": Jsonb(options)})
    return await cur.fetchone() is not None


async def mark_undone(conn: psycopg.AsyncConnection, job_id: int, message: str) -> bool:
    """A finished import taken back (webapp/queries/undo.py): the job keeps its status and says it was undone."""
    cur = await conn.execute(MARK_UNDONE, {"id": job_id})
    if cur.rowcount != 1:
        return False
    await conn.execute(ADD_EVENT, {"id": job_id, "message": message})
    return True


async def request_cancel(conn: psycopg.AsyncConnection, job_id: int) -> str | None:
    """A draft or queued job is cancelled at once; a running one stops after its current batch."""
    cur = await conn.execute(REQUEST_CANCEL, {"id": job_id})
    row = await cur.fetchone()
    return str(row[0]) if row else None


async def requeue_failed(
    conn: psycopg.AsyncConnection, supplier_id: int, job_id: int | None
) -> list[tuple[int, JobKind]]:
    """A failed or stopped job (or every failed one when ``job_id`` is None) back to queued; each resumes at its
    checkpoint."""
    cur = await conn.execute(REQUEUE_FAILED, {"sid": supplier_id, "id": job_id})
    return [(int(r[0]), as_kind(r[1])) for r in await cur.fetchall()]

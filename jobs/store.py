"""SQL the workers run against ``sync_jobs`` and friends: the job status machine lives here.

queued ──► running ──► succeeded | partially_succeeded | failed | cancelled
             ▲   │
             └───┘  (redelivered after a crash, or retried after a network error: resumes at its checkpoint)
"""

from __future__ import annotations

from typing import Any

import msgspec
import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from jobs.importing.records import RowError
from jobs.upsert import BatchCounts

TERMINAL = frozenset({"succeeded", "partially_succeeded", "failed", "cancelled"})


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


START_JOB = """
UPDATE sync_jobs
SET status = 'running', started_at = coalesce(started_at, now()), attempts = attempts + 1, updated_at = now(),
    message = CASE WHEN attempts > 0 THEN 'Picking up where we left off.' ELSE 'Starting…' END
WHERE id = %(id)s AND status IN ('queued', 'running') AND NOT cancel_requested
RETURNING id, supplier_id, integration_id, kind, source, status, options, checkpoint, cancel_requested, attempts,
          processed
"""
CANCEL_IF_REQUESTED = """
UPDATE sync_jobs SET status = 'cancelled', finished_at = now(), updated_at = now(),
    message = 'Cancelled. Everything imported before that is kept.'
WHERE id = %(id)s AND cancel_requested AND status IN ('queued', 'running')
RETURNING id
"""
COMMIT_BATCH = """
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
WHERE id = %(id)s
RETURNING cancel_requested
"""
INSERT_ERROR = """
INSERT INTO sync_job_errors (supplier_id, job_id, line, field, reason, raw)
VALUES (app_supplier_id(), %s, %s, %s, %s, %s)
"""
SET_MESSAGE = "UPDATE sync_jobs SET message = %(message)s, updated_at = now() WHERE id = %(id)s"
FINISH = """
UPDATE sync_jobs
SET status = CASE WHEN %(status)s = 'succeeded' AND failed_count > 0 THEN 'partially_succeeded' ELSE %(status)s END,
    message = %(message)s, finished_at = now(), updated_at = now()
WHERE id = %(id)s AND status = 'running'
RETURNING status
"""
DELETE_UPLOAD = "DELETE FROM import_upload_chunks WHERE job_id = %(id)s"
READ_CHUNK = "SELECT data FROM import_upload_chunks WHERE job_id = %(id)s AND seq = %(seq)s"


def start(conn: psycopg.Connection, job_id: int) -> JobRow | None:
    """Move a queued (or interrupted running) job to running; None when it is finished or cancelled."""
    if conn.execute(CANCEL_IF_REQUESTED, {"id": job_id}).fetchone():
        return None
    with conn.cursor(row_factory=class_row(JobRow)) as cur:
        return cur.execute(START_JOB, {"id": job_id}).fetchone()


def commit_batch(
    conn: psycopg.Connection,
    job_id: int,
    *,
    counts: BatchCounts,
    errors: list[RowError],
    processed: int,
    checkpoint: dict[str, Any],
    total: int | None,
    message: str,
) -> bool:
    """Record a committed batch's effect; returns True when the photographer asked to cancel."""
    if errors:
        with conn.cursor() as cur:
            cur.executemany(INSERT_ERROR, [(job_id, e.line, e.field, e.reason, Jsonb(e.raw)) for e in errors])
    row = conn.execute(COMMIT_BATCH, {
        "id": job_id, "processed": processed, "created": counts.created, "updated": counts.updated,
        "unchanged": counts.unchanged, "failed": len(errors), "total": total, "checkpoint": Jsonb(checkpoint),
        "message": message,
    }).fetchone()  # fmt: skip
    return bool(row and row[0])


def set_message(conn: psycopg.Connection, job_id: int, message: str) -> None:
    conn.execute(SET_MESSAGE, {"id": job_id, "message": message})


def finish(conn: psycopg.Connection, job_id: int, status: str, message: str) -> str | None:
    row = conn.execute(FINISH, {"id": job_id, "status": status, "message": message}).fetchone()
    conn.execute(DELETE_UPLOAD, {"id": job_id})
    return str(row[0]) if row else None


def cancel(conn: psycopg.Connection, job_id: int) -> None:
    conn.execute(CANCEL_IF_REQUESTED, {"id": job_id})
    conn.execute(DELETE_UPLOAD, {"id": job_id})

"""Sync jobs as the web pages read them."""

from __future__ import annotations

import psycopg
from psycopg.rows import class_row

from webapp.models import SyncJob

_COLUMNS = """
id, kind, source, status, total, processed, created_count, updated_count, unchanged_count,
failed_count, message, created_at, finished_at
"""
RECENT_JOBS = (
    "SELECT " + _COLUMNS + " FROM sync_jobs WHERE supplier_id = %(sid)s "
    "ORDER BY created_at DESC, id DESC LIMIT %(limit)s"
)


async def recent_jobs(conn: psycopg.AsyncConnection, supplier_id: int, limit: int = 5) -> list[SyncJob]:
    async with conn.cursor(row_factory=class_row(SyncJob)) as cur:
        await cur.execute(RECENT_JOBS, {"sid": supplier_id, "limit": limit})
        return await cur.fetchall()


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
CHUNK_BYTES = 1024 * 1024


async def create_job(
    conn: psycopg.AsyncConnection,
    *,
    kind: str,
    source: str,
    integration_id: int | None,
    options: dict[str, object] | None = None,
    status: str = "queued",
) -> int:
    from psycopg.types.json import Jsonb

    cur = await conn.execute(CREATE_JOB, {
        "integration_id": integration_id, "kind": kind, "source": source, "status": status,
        "options": Jsonb(options or {}),
    })  # fmt: skip
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def request_cancel(conn: psycopg.AsyncConnection, job_id: int) -> str | None:
    cur = await conn.execute(REQUEST_CANCEL, {"id": job_id})
    row = await cur.fetchone()
    return str(row[0]) if row else None


def enqueue(kind: str, supplier_id: int, job_id: int) -> None:
    """Send the job's actor a message (ids only). Call after the job row is committed."""
    from jobs.actors import ACTORS_BY_KIND

    ACTORS_BY_KIND[kind].send(supplier_id, job_id)

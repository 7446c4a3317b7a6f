"""Runs one import job: batches from a source → upsert → counts and checkpoint, one transaction per batch.

The checkpoint is written in the same transaction as the rows it covers, so a worker killed at any
instant (SIGKILL included) leaves either the whole batch with its checkpoint or neither; the redelivered
message resumes after the last committed batch and the final counts are exact.
"""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import structlog
from psycopg_pool import ConnectionPool

from jobs import store
from jobs.importing.records import ClientRecord, ImportFileError, RowError
from jobs.providers.errors import ProviderError
from jobs.sources import Batch, RowCapReached, UploadStream, file_batches, max_file_rows
from jobs.upsert import upsert_batch
from webapp.db.pool import tenant_sync

log = structlog.get_logger("wedsync.jobs")

MAX_ATTEMPTS = 5
RETRYABLE = frozenset({"rate_limited", "server", "timeout", "unreachable"})
UPDATE_CURSOR = "UPDATE crm_integrations SET sync_cursor = %(cursor)s, updated_at = now() WHERE id = %(id)s"


class RetryLater(Exception):
    """Raised to let Dramatiq redeliver the job after a back-off; the job row says why."""


def _progress(processed: int, total: int | None) -> str:
    if total:
        return f"Imported {processed:,} of {total:,}."
    return f"Imported {processed:,} so far."


_DONE = object()


def prefetch(items: Iterator[Batch], depth: int = 2) -> Iterator[Batch]:
    """Produce the next batches in a thread while the current one is written: parsing is Python work,
    writing is mostly waiting on PostgreSQL, so overlapping them nearly halves a big import."""
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it in the job's thread
            buffer.put(exc)

    thread = threading.Thread(target=produce, name="import-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, Batch)
            yield item
    finally:
        stop.set()


def run_batches(pool: ConnectionPool, job: store.JobRow, batches: Iterator[Batch]) -> str:
    """Commit every batch; return the final status ('succeeded' / 'partially_succeeded' / 'cancelled')."""
    processed = job.processed
    for batch in prefetch(batches):
        records = [i for i in batch.items if isinstance(i, ClientRecord)]
        errors = [i for i in batch.items if isinstance(i, RowError)]
        count = len(batch.items) + batch.skipped
        with tenant_sync(pool, job.supplier_id) as conn:
            counts = upsert_batch(conn, job.supplier_id, job.source, records, job_id=job.id)
            if batch.cursor is not None and job.integration_id is not None:
                from psycopg.types.json import Jsonb

                conn.execute(UPDATE_CURSOR, {"cursor": Jsonb(batch.cursor), "id": job.integration_id})
            cancel = store.commit_batch(
                conn,
                job.id,
                counts=counts,
                errors=errors,
                processed=count,
                checkpoint=batch.checkpoint,
                total=batch.total,
                message=_progress(processed + count, batch.total),
            )
        processed += count
        if cancel:
            with tenant_sync(pool, job.supplier_id) as conn:
                store.cancel(conn, job.id)
            return "cancelled"
    return "succeeded"


def summary(pool: ConnectionPool, job: store.JobRow) -> str:
    with tenant_sync(pool, job.supplier_id) as conn:
        row = conn.execute(
            "SELECT created_count, updated_count, unchanged_count, failed_count FROM sync_jobs WHERE id = %s",
            [job.id],
        ).fetchone()
    assert row is not None
    created, updated, unchanged, failed = row
    text = f"Done: {created:,} new, {updated:,} updated, {unchanged:,} unchanged"
    return text + (f", {failed:,} rows need fixing." if failed else ".")


def run_job(pool: ConnectionPool, supplier_id: int, job_id: int, batches_for: Any) -> str | None:
    """Start the job, run its batches, and settle its final status; ``batches_for(job)`` builds the source."""
    with tenant_sync(pool, supplier_id) as conn:
        job = store.start(conn, job_id)
    if job is None:
        return None  # finished, cancelled or unknown: a duplicate delivery is a no-op
    started = time.monotonic()
    try:
        status = run_batches(pool, job, batches_for(job))
        message = summary(pool, job)
    except RowCapReached:
        cap = max_file_rows()
        status, message = (
            "partially_succeeded",
            f"This file has more than {cap:,} rows. We imported the first {cap:,}; split the rest into another file.",
        )
    except ImportFileError as exc:
        status, message = "failed", exc.message
    except ProviderError as exc:
        if exc.kind in RETRYABLE and job.attempts < MAX_ATTEMPTS:
            with tenant_sync(pool, supplier_id) as conn:
                store.set_message(
                    conn, job.id, f"{exc.message} We'll try again shortly ({job.attempts} of {MAX_ATTEMPTS})."
                )
            raise RetryLater(exc.kind) from exc
        status, message = "failed", exc.message
    except Exception:
        log.exception("import job crashed", job_id=job.id, attempt=job.attempts)
        if job.attempts < MAX_ATTEMPTS:
            raise
        status, message = "failed", "Something went wrong on our side and we stopped this import. Nothing was lost."
    if status == "cancelled":
        return status
    with tenant_sync(pool, supplier_id) as conn:
        final = store.finish(conn, job.id, status, message)
    log.info("import job finished", job_id=job.id, status=final, seconds=round(time.monotonic() - started, 2))
    return final


def upload_reader(pool: ConnectionPool, supplier_id: int, job_id: int) -> io.BufferedReader:
    return io.BufferedReader(UploadStream(pool, supplier_id, job_id), buffer_size=256 * 1024)


__all__ = ["RetryLater", "file_batches", "run_job", "upload_reader"]

"""Runs one import job: batches from a source → upsert → counts and checkpoint, one transaction per batch.

The checkpoint is written in the same transaction as the rows it covers, so a worker killed at any
instant (SIGKILL included) leaves either the whole batch with its checkpoint or neither; the redelivered
message resumes after the last committed batch and the final counts are exact.
"""

from __future__ import annotations

import collections
import io
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NoReturn

import msgspec
import structlog
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from core import job_lifecycle as store
from core.cache_generations import bump_from_worker
from core.db.pool import tenant_sync
from core.importing.records import ClientRecord, ImportFileError, RowError, Unchanged
from core.job_lifecycle import CRM_JOB_KINDS, BatchCounts
from core.progress import ProgressEvent
from core.providers.errors import ProviderError
from core.settings import settings
from jobs.errors import JobCancelled, JobFailed, RetryLater, plain_reason, retry_delay_ms, stopped_message, verdict
from jobs.import_notes import add_import_notes
from jobs.notices import announce_end
from jobs.sources import Batch, RowCapReached, UploadStream, file_batches, max_file_rows
from jobs.upsert import SourceWriter, stored_digests

log = structlog.get_logger("wedsync.jobs")

UPDATE_CURSOR = "UPDATE crm_integrations SET sync_cursor = %(cursor)s, updated_at = now() WHERE id = %(id)s"


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


Emit = Callable[[ProgressEvent], None]


class Reporter:
    """Turns the job row's counts into progress events, with speed and time left for this attempt."""

    def __init__(self, job: store.JobRow, emit: Emit | None) -> None:
        self.job, self._emit = job, emit
        self._started = time.monotonic()
        self._processed_at_start = job.processed

    def report(self, counts: store.JobCounts | None) -> None:
        if self._emit is None or counts is None:
            return
        elapsed = time.monotonic() - self._started
        done_now = counts.processed - self._processed_at_start
        rate = done_now / elapsed if elapsed > 0.5 and done_now > 0 else None
        eta = (counts.total - counts.processed) / rate if rate and counts.total else None
        self._emit(ProgressEvent(
            job_id=self.job.id, supplier_id=self.job.supplier_id, kind=self.job.kind, source=self.job.source,
            status=counts.status, processed=counts.processed, total=counts.total, created=counts.created_count,
            updated=counts.updated_count, unchanged=counts.unchanged_count, failed=counts.failed_count,
            rows_per_s=round(rate, 1) if rate else None, eta_s=round(max(eta, 0.0), 1) if eta is not None else None,
            message=counts.message,
        ))  # fmt: skip

    def report_current(self, pool: ConnectionPool) -> None:
        with tenant_sync(pool, self.job.supplier_id) as conn:
            self.report(store.counts(conn, self.job.id))


class CancelWatch:
    """Whether the photographer asked this job to stop, read from its row at most every ``interval_s``.

    Batches see a cancel at their commit; a source that reads for minutes before its first batch (a CRM's contact
    pages, a wait for a ``Retry-After``) calls ``check`` as it goes and sleeps with ``sleep``, which raise
    ``JobCancelled``; the runner then ends the job ``cancelled``. Safe to call from the source's threads."""

    def __init__(self, pool: ConnectionPool, supplier_id: int, job_id: int, interval_s: float = 1.0) -> None:
        self._pool, self._supplier_id, self._job_id, self.interval_s = pool, supplier_id, job_id, interval_s
        self._lock = threading.Lock()
        self._checked = -interval_s
        self._requested = False

    def check(self) -> None:
        if not self._requested:
            with self._lock:
                now = time.monotonic()
                if now - self._checked < self.interval_s:
                    return
                self._checked = now
            with tenant_sync(self._pool, self._supplier_id) as conn:
                self._requested = store.cancel_requested(conn, self._job_id)
        if self._requested:
            raise JobCancelled

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            self.check()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, self.interval_s))


class KeptPages:
    """The job's ``PageStore`` (core.providers.tave_details): the pages its CRM bulk reads kept, in PostgreSQL, so a
    second attempt goes on after the last page read instead of from page 1. Deleted when the job succeeds."""

    def __init__(self, pool: ConnectionPool, supplier_id: int, job_id: int) -> None:
        self._pool, self._supplier_id, self._job_id = pool, supplier_id, job_id

    def saved(self, resource: str) -> list[bytes]:
        with tenant_sync(self._pool, self._supplier_id) as conn:
            return store.read_pages(conn, self._job_id, resource)

    def save(self, resource: str, page: int, payload: bytes) -> None:
        with tenant_sync(self._pool, self._supplier_id) as conn:
            store.save_read_page(conn, self._job_id, resource, page, payload)


# Batches written at once, each in its own transaction on its own connection. PostgreSQL spends most of an
# import maintaining the indexes; a second backend lets a second core
# do that work while the first batch is still being written. Commits stay in file order (see _write).
WRITERS = 2


class _Pending(msgspec.Struct):
    future: Future[store.JobCounts]
    connected: threading.Event  # set once this batch holds its connection (or gave up trying)
    keys: frozenset[str]


def _write(
    pool: ConnectionPool,
    job: store.JobRow,
    batch: Batch,
    message: str,
    ahead: _Pending | None,
    connected: threading.Event,
    writer: SourceWriter,
) -> store.JobCounts:
    """Write one batch; commit only after the batch ahead of it has committed.

    Committing in order keeps the checkpoint honest: a worker killed at any instant leaves a prefix of
    the file committed, never a gap. A failed batch fails every batch behind it, which roll back.
    Connections are taken in order too: a batch waits until the one ahead holds its connection, so
    with the pool nearly empty the oldest batch always gets one first and nothing waits in a circle.
    """
    records = [i for i in batch.items if isinstance(i, ClientRecord)]
    errors = [i for i in batch.items if isinstance(i, RowError)]
    unchanged = BatchCounts(unchanged=sum(isinstance(i, Unchanged) for i in batch.items))
    try:
        if ahead is not None:
            ahead.connected.wait()
        with tenant_sync(pool, job.supplier_id) as conn:
            connected.set()
            counts = writer.write(conn, records) + unchanged
            if counts.created:
                add_import_notes(conn, job.supplier_id, job.source, records)
            if ahead is not None:
                ahead.future.result()  # raises if it failed: this batch then rolls back too
            if batch.cursor is not None and job.integration_id is not None:
                conn.execute(UPDATE_CURSOR, {"cursor": Jsonb(batch.cursor), "id": job.integration_id})
            return store.commit_batch(
                conn,
                job.id,
                attempt=job.attempts,
                counts=counts,
                errors=errors,
                warnings=[w for r in records if r.warnings for w in r.warnings],
                processed=len(batch.items) + batch.skipped,
                checkpoint=batch.checkpoint,
                total=batch.total,
                message=message,
            )
    finally:
        connected.set()


def run_batches(
    pool: ConnectionPool, job: store.JobRow, batches: Iterator[Batch], reporter: Reporter | None = None
) -> str:
    """Commit every batch; return the final status ('succeeded' / 'partially_succeeded' / 'cancelled')."""
    reporter = reporter or Reporter(job, None)
    processed = job.processed
    in_flight: collections.deque[_Pending] = collections.deque()
    cancel = False
    with tenant_sync(pool, job.supplier_id) as conn:
        writer = SourceWriter.for_job(conn, job.supplier_id, job.source, job.id)

    def settle_oldest() -> None:
        nonlocal cancel
        state = in_flight.popleft().future.result()
        bump_from_worker(job.supplier_id)  # after the commit: web processes drop this supplier's cached reads
        reporter.report(state)  # after the commit: a phone never sees rows that could still roll back
        cancel = cancel or state.cancel_requested

    with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="import-writer") as threads:
        try:
            for batch in prefetch(batches):
                keys = frozenset(i.external_id for i in batch.items if isinstance(i, ClientRecord))
                # A client also in a batch still being written waits for that commit: the later row must
                # win (as in a spreadsheet read top-down), and two open transactions must not wait on
                # each other's row locks.
                while in_flight and (len(in_flight) >= WRITERS or any(keys & p.keys for p in in_flight)):
                    settle_oldest()
                if cancel:
                    break
                processed += len(batch.items) + batch.skipped
                ahead = in_flight[-1] if in_flight else None
                connected = threading.Event()
                progress = _progress(processed, batch.total)
                future = threads.submit(_write, pool, job, batch, progress, ahead, connected, writer)
                in_flight.append(_Pending(future, connected, keys))
        finally:
            # Batches already handed to a writer are committed (or fail) before anything else happens,
            # including when the source broke mid-file: the rows read before the break are kept.
            while in_flight:
                settle_oldest()
    if cancel:
        with tenant_sync(pool, job.supplier_id) as conn:
            store.cancel(conn, job.id)
        reporter.report_current(pool)
        return "cancelled"
    return "succeeded"


# An import that wrote at least this many clients, and at least this share of the studio's, analyses ``clients``:
# until then the planner knows the studio by statistics taken before (a new studio in a big table looks empty).
ANALYSE_AFTER_ROWS = 10_000
ANALYSE_AFTER_SHARE = 0.2
STUDIO_CLIENTS = "SELECT count(*) FROM clients WHERE supplier_id = %s"
ANALYSE_STUDIO_COLUMNS = "ANALYZE clients (supplier_id, source)"
JOB_WROTE = "SELECT created_count + updated_count FROM sync_jobs WHERE id = %s"


def analyse_if_changed_much(pool: ConnectionPool, job: store.JobRow) -> bool:
    """ANALYZE clients after a job that changed a large share of its studio's rows; True when it did."""
    with tenant_sync(pool, job.supplier_id) as conn:
        wrote = conn.execute(JOB_WROTE, [job.id]).fetchone()
        if wrote is None or wrote[0] < ANALYSE_AFTER_ROWS:
            return False
        studio = conn.execute(STUDIO_CLIENTS, [job.supplier_id]).fetchone()
        if studio is None or wrote[0] < ANALYSE_AFTER_SHARE * studio[0]:
            return False
        started = time.monotonic()
        # Only the columns that tell the planner how many rows a studio and a source have: the plans this is for
        # (jobs/upsert.py, the pages' per-studio queries) hinge on them. A third of the time of a whole-table ANALYZE
        # (0.2 s against 0.6 s at 340,000 clients, mostly the search column's statistics), and the table's
        # count of changes is left as it is, so autovacuum still analyses every column soon after.
        conn.execute(ANALYSE_STUDIO_COLUMNS)
    seconds = round(time.monotonic() - started, 2)
    log.info("analysed clients after a large import", job_id=job.id, rows=wrote[0], seconds=seconds)
    return True


def summary(pool: ConnectionPool, job: store.JobRow) -> str:
    with tenant_sync(pool, job.supplier_id) as conn:
        row = conn.execute(
            "SELECT created_count, updated_count, unchanged_count, failed_count, checkpoint, processed"
            " FROM sync_jobs WHERE id = %s",
            [job.id],
        ).fetchone()
        warned = store.warned_rows(conn, job.id)
    assert row is not None
    created, updated, unchanged, failed, checkpoint, processed = row
    text = f"Done: {created:,} new, {updated:,} updated, {unchanged:,} unchanged"
    # Records a source holds that are not clients (a Tave portrait or corporate job): counted, so the numbers add up.
    skipped = processed - created - updated - unchanged - failed
    if skipped > 0 and job.kind in CRM_JOB_KINDS:
        text += f", {skipped:,} {'job' if skipped == 1 else 'jobs'} that aren't weddings skipped"
    if warned:
        text += f", {warned:,} imported with something left out"
    if failed == 1:
        text += ", 1 row needs fixing."
    else:
        text += f", {failed:,} rows need fixing." if failed else "."
    notice = checkpoint.get("notice") if isinstance(checkpoint, dict) else None
    return f"{text} {notice}" if isinstance(notice, str) else text


def _committed_rows(pool: ConnectionPool, job: store.JobRow) -> int:
    with tenant_sync(pool, job.supplier_id) as conn:
        row = conn.execute("SELECT processed FROM sync_jobs WHERE id = %s", [job.id]).fetchone()
    return int(row[0]) if row else 0


def _retry_later(pool: ConnectionPool, job: store.JobRow, reporter: Reporter, exc: Exception) -> NoReturn:
    config = settings()
    line = f"{plain_reason(exc)} We'll try again shortly ({job.attempts} of {config.job_max_attempts})."
    try:
        with tenant_sync(pool, job.supplier_id) as conn:
            store.set_message(conn, job.id, line)
        reporter.report_current(pool)
    except Exception:  # the database may be what failed: the retry matters more than the status line
        log.warning("could not record a retry", job_id=job.id)
    delay = retry_delay_ms(job.attempts, config.job_retry_min_backoff_ms, config.job_retry_max_backoff_ms)
    log.info("import job will be tried again", job_id=job.id, attempt=job.attempts, delay_ms=delay)
    raise RetryLater(type(exc).__name__, delay=delay) from exc


def run_job(
    pool: ConnectionPool, supplier_id: int, job_id: int, batches_for: Any, emit: Emit | None = None
) -> str | None:
    """Start the job, run its batches, and settle its final status; ``batches_for(job, reporter)`` builds
    the source (the reporter lets a source announce waits such as "Tave asked us to slow down")."""
    with tenant_sync(pool, supplier_id) as conn:
        job = store.start(conn, job_id)
        state = store.counts(conn, job_id)
        settled = store.load(conn, job_id) if job is None else None
    if job is None:
        if settled is not None:  # cancelled before it started: tell the watchers
            Reporter(settled, emit).report(state)
        return None  # finished, cancelled or unknown: a duplicate delivery is a no-op
    reporter = Reporter(job, emit)
    reporter.report(state)
    started = time.monotonic()
    keep_upload = False  # only a failure that is not the file's fault keeps the file for "Try again"
    try:
        status = run_batches(pool, job, batches_for(job, reporter), reporter)
        message = summary(pool, job)
        try:
            analyse_if_changed_much(pool, job)
        except Exception:  # fresher statistics help the next import; they are not this one's result
            log.warning("could not analyse clients", job_id=job.id, exc_info=True)
    except RowCapReached:
        cap = max_file_rows()
        status, message = (
            "partially_succeeded",
            f"This file has more than {cap:,} rows. We imported the first {cap:,}; split the rest into another file.",
        )
    except ImportFileError as exc:
        status, message = "failed", exc.message
        kept = _committed_rows(pool, job)
        if kept:  # the rows before the broken line were committed: say so, and don't call it a failure
            status, message = "partially_succeeded", f"{exc.message} We kept the {kept:,} rows before it."
    except store.JobTakenOver:
        # Nothing to settle: the job's row already says how it ended, or the run that took it over will.
        log.warning("import job taken over while it ran; its last batch was not kept", job_id=job.id)
        return None
    except JobCancelled:
        with tenant_sync(pool, supplier_id) as conn:
            store.cancel(conn, job.id)
        reporter.report_current(pool)
        log.info("import job cancelled while reading", job_id=job.id)
        return "cancelled"
    except Exception as exc:
        # Data errors end the job now; transient ones are tried again after a back-off until the tries run out.
        if verdict(exc) == "transient" and job.attempts < settings().job_max_attempts:
            _retry_later(pool, job, reporter, exc)
        if isinstance(exc, (ProviderError, JobFailed)):  # plain words already, nothing for a developer
            log.warning("import job stopped", job_id=job.id, attempt=job.attempts, reason=type(exc).__name__)
        else:
            log.exception("import job stopped", job_id=job.id, attempt=job.attempts, verdict=verdict(exc))
        status, message = "failed", stopped_message(exc)
        keep_upload = True
    if status == "cancelled":
        return status
    with tenant_sync(pool, supplier_id) as conn:
        final = store.finish(conn, job.id, status, message, keep_upload=keep_upload)
    bump_from_worker(supplier_id)
    reporter.report_current(pool)
    announce_end(supplier_id, job.id, final)  # after the commit: the notice reads the job's end
    log.info("import job finished", job_id=job.id, status=final, seconds=round(time.monotonic() - started, 2))
    return final


def upload_reader(pool: ConnectionPool, supplier_id: int, job_id: int) -> io.BufferedReader:
    return io.BufferedReader(UploadStream(pool, supplier_id, job_id), buffer_size=256 * 1024)


def upload_batches(pool: ConnectionPool, job: store.JobRow) -> Iterator[Batch]:
    """The batches of a job's uploaded file, rows the studio imported before unchanged left uncleaned."""
    with tenant_sync(pool, job.supplier_id) as conn:
        stored = stored_digests(conn, job.supplier_id, job.source)
    return file_batches(upload_reader(pool, job.supplier_id, job.id), job.options, job.checkpoint, stored)


__all__ = ["RetryLater", "file_batches", "run_job", "upload_batches", "upload_reader"]

"""Normalisation in worker processes, so a big file uses every core and never holds the job's GIL.

Cleaning a row (names, emails, phone numbers, dates) is pure Python at ~25 µs a row. Run in the
job's own thread it competes for one GIL with the COPY that writes the previous batch and with
every other import in the same Dramatiq worker process; in a process pool it runs beside them.

Rows go out and records come back as msgpack (msgspec), which is several times cheaper than
pickling Structs. Order is kept: chunks are submitted in file order and read back in that order,
with a bounded number in flight so memory stays flat on any file size. If a pool process dies
(killed, out of memory), the chunks still owed are cleaned in this thread and the pool is
rebuilt on the next import: the job goes on and loses nothing.
"""

from __future__ import annotations

import collections
import multiprocessing
import multiprocessing.util
import os
import signal
import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from typing import overload

import msgspec
import structlog

from core.importing.digest import KnownRows, RowDigester
from core.importing.mapping import Mapping
from core.importing.normalise import NormaliseContext
from core.importing.records import ClientRecord, ImportFileError, ImportItem, RawRow, RowError, Unchanged
from core.importing.validate import build_record
from core.settings import settings

log = structlog.get_logger("wedsync.jobs")

CHUNK_ROWS = 1_000

Results = tuple[list[ClientRecord], list[tuple[int, RowError]]]
_encode = msgspec.msgpack.Encoder().encode
_decode_chunk = msgspec.msgpack.Decoder(tuple[list[RawRow], Mapping, NormaliseContext, bytes | None]).decode
_decode_results = msgspec.msgpack.Decoder(Results).decode

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()
_lifeline: Connection | None = None  # the worker's end of the current pool's lifeline
# Set once a pool's processes are up. A cold start (the forkserver, its imports, the forks) takes ~0.5 s
# and submit() blocks through it, so it runs in a thread of its own while the job cleans its first
# chunks itself instead of waiting.
_ready: weakref.WeakKeyDictionary[ProcessPoolExecutor, threading.Event] = weakref.WeakKeyDictionary()


def pool_size() -> int:
    """``IMPORT_PROCESSES`` (0 = clean rows in the job's thread); by default one per core."""
    size = settings().import_processes
    return size if size is not None else (os.cpu_count() or 1)


def shared_pool() -> ProcessPoolExecutor | None:
    """The process-wide pool, started on first use. Forkserver, not fork: a Dramatiq worker is
    multi-threaded, and forking a threaded process can copy a lock held by another thread."""
    global _pool, _lifeline
    size = pool_size()
    if size <= 0:
        return None
    with _pool_lock:
        if _pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            lifeline, _lifeline = context.Pipe(duplex=False)
            _pool = ProcessPoolExecutor(
                max_workers=size, mp_context=context, initializer=_become_pool_process, initargs=(lifeline,)
            )
            # A Dramatiq worker process is itself a multiprocessing child: on exit it joins its
            # children before the interpreter's own shutdown hooks run, and a graceful pool shutdown
            # from there can wait for ever on the pool's own queues. So the worker's exit closes the
            # lifeline (the pool processes exit at once) before anything joins them.
            multiprocessing.util.Finalize(None, _stop, args=(_pool, _lifeline), exitpriority=100)
            ready = _ready[_pool] = threading.Event()
            threading.Thread(
                target=_start_processes, args=(_pool, size, ready), name="import-pool-start", daemon=True
            ).start()
        return _pool


def _start_processes(pool: ProcessPoolExecutor, size: int, ready: threading.Event) -> None:
    # One task per process: with forkserver, each submit that finds no idle process starts one.
    try:
        for future in [pool.submit(os.getpid) for _ in range(size)]:
            future.result()
    except Exception:  # a broken or stopped pool: the job's own submit finds out and cleans in its thread
        log.warning("the import cleaning pool did not start", exc_info=True)
    finally:
        ready.set()


def is_ready(pool: ProcessPoolExecutor) -> bool:
    event = _ready.get(pool)
    return event is None or event.is_set()


def started_pool(timeout: float = 60) -> ProcessPoolExecutor | None:
    """The shared pool once its processes are up (for callers that need the pool itself, such as tests)."""
    pool = shared_pool()
    if pool is not None and (event := _ready.get(pool)) is not None:
        event.wait(timeout)
    return pool


def _become_pool_process(lifeline: Connection) -> None:
    """Runs first in each pool process: its lifetime belongs to the worker that started it.

    Ctrl-C or a SIGTERM sent to the whole process group must not kill it halfway through reading
    the task queue (that leaves the queue's lock held and the worker's shutdown waiting for ever);
    the worker's own shutdown stops it. If the worker is killed outright, the write end of
    ``lifeline`` (held only by the worker) closes, and the pool process exits at once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def exit_with_the_worker() -> None:
        lifeline.poll(None)  # returns when the worker's end closes; nothing is ever sent
        os._exit(0)

    threading.Thread(target=exit_with_the_worker, name="lifeline", daemon=True).start()


def _stop(pool: ProcessPoolExecutor, lifeline: Connection) -> None:
    lifeline.close()
    pool.shutdown(wait=False, cancel_futures=True)


def _discard(broken: ProcessPoolExecutor) -> None:
    global _pool, _lifeline
    with _pool_lock:
        if _pool is broken:
            _pool = None
            if _lifeline is not None:
                _lifeline.close()  # whatever is left of the broken pool exits with it
                _lifeline = None
    broken.shutdown(wait=False, cancel_futures=True)


def _clean(rows: list[RawRow], mapping: Mapping, ctx: NormaliseContext, digest_key: bytes | None) -> Results:
    records: list[ClientRecord] = []
    errors: list[tuple[int, RowError]] = []
    apply = mapping.applier()
    digest = RowDigester(digest_key) if digest_key is not None else None
    for position, row in enumerate(rows):
        item = build_record(apply(row), row.line, row, ctx, digest)
        if isinstance(item, ClientRecord):
            records.append(item)
        else:
            errors.append((position, item))
    return records, errors


def clean_chunk(payload: bytes) -> bytes:
    """Runs in a pool process: msgpack rows in, msgpack records and row errors out."""
    return _encode(_clean(*_decode_chunk(payload)))


def _in_order(results: Results) -> Iterator[ClientRecord | RowError]:
    records, errors = results
    pending = collections.deque(errors)
    index = 0
    for record in records:
        while pending and pending[0][0] == index:
            yield pending.popleft()[1]
            index += 1
        yield record
        index += 1
    for _, error in pending:
        yield error


class _Chunk(msgspec.Struct):
    rows: list[RawRow]
    to_clean: list[RawRow]  # all of ``rows``, but for the ones a stored client was imported from
    stored_ids: list[str | None] | None  # per row, that client's external id (None: no row was stored)
    future: Future[bytes] | None = None


@overload
def clean_rows(
    rows: Iterator[RawRow], mapping: Mapping, ctx: NormaliseContext, known: None = None
) -> Iterator[ClientRecord | RowError]: ...
@overload
def clean_rows(
    rows: Iterator[RawRow], mapping: Mapping, ctx: NormaliseContext, known: KnownRows
) -> Iterator[ImportItem]: ...
def clean_rows(
    rows: Iterator[RawRow], mapping: Mapping, ctx: NormaliseContext, known: KnownRows | None = None
) -> Iterator[ImportItem]:
    """Records and row errors for ``rows``, in order, cleaned in the shared pool.

    The pool is only started once a full chunk is waiting, so a small file never pays for it;
    until its processes are up, and for a last, short chunk, rows are cleaned in this thread.
    A reader that breaks mid-file (ImportFileError) still has every row before the break
    cleaned and yielded first; then the error is raised, as in the single-thread path.

    With ``known`` (core.importing.digest), records carry their raw row's digest, and a row the studio's
    source already has a client from comes out as Unchanged without being cleaned; unless this job wrote
    that client from an earlier row, in which case it is cleaned here, so the file's last row still wins.
    """
    in_flight: collections.deque[_Chunk] = collections.deque()
    limit = 2 * max(1, pool_size())  # enough to keep every pool process busy, few enough to stay small
    failure: ImportFileError | None = None
    live: ProcessPoolExecutor | None = None
    started = False
    digest = known.digest if known is not None else None
    digest_key = digest.key if digest is not None else None
    stored = known.stored if known is not None else {}
    apply = mapping.applier()

    def submit(read: list[RawRow]) -> None:
        nonlocal live, started
        chunk = _Chunk(read, read, None)
        if stored:
            assert digest is not None
            chunk.stored_ids = [stored.get(digest(row.values)) for row in read]
            chunk.to_clean = [row for row, stored_id in zip(read, chunk.stored_ids, strict=True) if stored_id is None]
        full = len(read) == CHUNK_ROWS
        if full and not started:
            live, started = shared_pool(), True
        # Until the pool's processes are up, chunks are cleaned in this thread (see _ready), and so are the
        # few rows left of a chunk that was mostly unchanged: sending them would cost more than cleaning them.
        if live is not None and full and len(chunk.to_clean) > CHUNK_ROWS // 10 and is_ready(live):
            try:
                chunk.future = live.submit(clean_chunk, _encode((chunk.to_clean, mapping, ctx, digest_key)))
            except BrokenProcessPool:
                _discard(live)
                live = None
        in_flight.append(chunk)

    def collect() -> Iterator[ImportItem]:
        nonlocal live
        chunk = in_flight.popleft()
        results: Results | None = None
        if chunk.future is not None:
            try:
                results = _decode_results(chunk.future.result())
            except BrokenProcessPool:
                log.warning("an import cleaning process died; cleaning the rest in the job's thread")
                if live is not None:
                    _discard(live)
                    live = None
        cleaned = _in_order(results if results is not None else _clean(chunk.to_clean, mapping, ctx, digest_key))
        if chunk.stored_ids is None:
            yield from cleaned
            return
        assert known is not None
        for row, stored_id in zip(chunk.rows, chunk.stored_ids, strict=True):
            item: ImportItem
            if stored_id is None:
                item = next(cleaned)
            elif stored_id in known.written:
                item = build_record(apply(row), row.line, row, ctx, digest)
            else:
                item = Unchanged(row.line, stored_id)
            if isinstance(item, ClientRecord):
                known.written.add(item.external_id)
            yield item

    while failure is None:
        chunk: list[RawRow] = []
        try:
            for row in rows:
                chunk.append(row)
                if len(chunk) == CHUNK_ROWS:
                    break
        except ImportFileError as exc:
            failure = exc
        if chunk:
            submit(chunk)
        while len(in_flight) >= limit or (in_flight and (failure is not None or len(chunk) < CHUNK_ROWS)):
            yield from collect()
        if len(chunk) < CHUNK_ROWS:
            break
    if failure is not None:
        raise failure


__all__ = ["CHUNK_ROWS", "clean_chunk", "clean_rows", "is_ready", "pool_size", "shared_pool", "started_pool"]

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

import msgspec
import structlog

from jobs.importing.mapping import Mapping
from jobs.importing.normalise import NormaliseContext
from jobs.importing.records import ClientRecord, ImportFileError, RawRow, RowError
from jobs.importing.validate import build_record

log = structlog.get_logger("wedsync.jobs")

CHUNK_ROWS = 1_000

Results = tuple[list[ClientRecord], list[tuple[int, RowError]]]
_encode = msgspec.msgpack.Encoder().encode
_decode_chunk = msgspec.msgpack.Decoder(tuple[list[RawRow], Mapping, NormaliseContext]).decode
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
    raw = os.environ.get("IMPORT_PROCESSES", "").strip()
    return int(raw) if raw.isdigit() else (os.cpu_count() or 1)


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


def _clean(rows: list[RawRow], mapping: Mapping, ctx: NormaliseContext) -> Results:
    records: list[ClientRecord] = []
    errors: list[tuple[int, RowError]] = []
    apply = mapping.applier()
    for position, row in enumerate(rows):
        item = build_record(apply(row), row.line, row, ctx)
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


def clean_rows(rows: Iterator[RawRow], mapping: Mapping, ctx: NormaliseContext) -> Iterator[ClientRecord | RowError]:
    """Records and row errors for ``rows``, in order, cleaned in the shared pool.

    The pool is only started once a full chunk is waiting, so a small file never pays for it;
    until its processes are up, and for a last, short chunk, rows are cleaned in this thread.
    A reader that breaks mid-file (ImportFileError) still has every row before the break
    cleaned and yielded first; then the error is raised, as in the single-thread path.
    """
    in_flight: collections.deque[tuple[list[RawRow], Future[bytes] | None]] = collections.deque()
    limit = 2 * max(1, pool_size())  # enough to keep every pool process busy, few enough to stay small
    failure: ImportFileError | None = None
    live: ProcessPoolExecutor | None = None
    started = False

    def submit(chunk: list[RawRow]) -> None:
        nonlocal live, started
        future: Future[bytes] | None = None
        if len(chunk) == CHUNK_ROWS and not started:
            live, started = shared_pool(), True
        # Until the pool's processes are up, chunks are cleaned in this thread (see _ready).
        if live is not None and len(chunk) == CHUNK_ROWS and is_ready(live):
            try:
                future = live.submit(clean_chunk, _encode((chunk, mapping, ctx)))
            except BrokenProcessPool:
                _discard(live)
                live = None
        in_flight.append((chunk, future))

    def collect() -> Iterator[ClientRecord | RowError]:
        nonlocal live
        chunk, future = in_flight.popleft()
        results: Results | None = None
        if future is not None:
            try:
                results = _decode_results(future.result())
            except BrokenProcessPool:
                log.warning("an import cleaning process died; cleaning the rest in the job's thread")
                if live is not None:
                    _discard(live)
                    live = None
        yield from _in_order(results if results is not None else _clean(chunk, mapping, ctx))

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

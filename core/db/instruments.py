"""Instruments on the connection pools that both web processes and workers open.

- Statement time: the pools' cursors time every ``execute`` into ``wedsync_db_query_seconds`` (psycopg has no
  tracing hook; a cursor subclass passed as ``cursor_factory`` is its documented extension point).
- Pool gauges and the "gave up reconnecting" counter.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import psycopg
import structlog
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from core.metrics import DB_POOL_CONNECTIONS, DB_POOL_ERRORS, DB_QUERY_SECONDS

log = structlog.get_logger("wedsync.db")

# ---------------------------------------------------------------------------------------------------------------
# Statement timing

_STATEMENT_KINDS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "COPY", "WITH", "SET", "BEGIN", "COMMIT"})


def statement_kind(query: Any) -> str:
    """SELECT, INSERT, …: a label with a handful of values, never the SQL text (unbounded, may carry data)."""
    while isinstance(query, sql.Composed):
        query = next(iter(query), "")
    if isinstance(query, sql.SQL):
        query = query.as_string()
    if isinstance(query, bytes | bytearray | memoryview):
        query = bytes(query[:32]).decode(errors="replace")
    words = str(query)[:32].split(None, 1)
    word = words[0].upper() if words else ""
    return word if word in _STATEMENT_KINDS else "OTHER"


class TimedAsyncCursor(psycopg.AsyncCursor[Any]):
    role = "web"

    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> TimedAsyncCursor:
        start = time.perf_counter()
        try:
            await super().execute(query, params, **kwargs)
        finally:
            DB_QUERY_SECONDS.labels(statement_kind(query), self.role).observe(time.perf_counter() - start)
        return self

    async def executemany(self, query: Any, params_seq: Iterable[Any], **kwargs: Any) -> None:
        start = time.perf_counter()
        try:
            await super().executemany(query, params_seq, **kwargs)
        finally:
            DB_QUERY_SECONDS.labels(statement_kind(query), self.role).observe(time.perf_counter() - start)


class TimedCursor(psycopg.Cursor[Any]):
    role = "worker"

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> TimedCursor:
        start = time.perf_counter()
        try:
            super().execute(query, params, **kwargs)
        finally:
            DB_QUERY_SECONDS.labels(statement_kind(query), self.role).observe(time.perf_counter() - start)
        return self

    def executemany(self, query: Any, params_seq: Iterable[Any], **kwargs: Any) -> None:
        start = time.perf_counter()
        try:
            super().executemany(query, params_seq, **kwargs)
        finally:
            DB_QUERY_SECONDS.labels(statement_kind(query), self.role).observe(time.perf_counter() - start)


# Pool gauges


def record_pool_stats(pool: AsyncConnectionPool | ConnectionPool) -> dict[str, int]:
    stats = pool.get_stats()
    name = pool.name or "pool"
    for state, key in (("size", "pool_size"), ("idle", "pool_available"), ("waiting", "requests_waiting")):
        DB_POOL_CONNECTIONS.labels(name, state).set(stats.get(key, 0))
    return stats


def reconnect_failed(pool: AsyncConnectionPool | ConnectionPool) -> None:
    """psycopg_pool gave up reconnecting for ``reconnect_timeout``; it tries again on the next request."""
    DB_POOL_ERRORS.labels(pool.name or "pool", "reconnect_failed").inc()
    log.error("database unreachable: pool stopped reconnecting for now", pool=pool.name)

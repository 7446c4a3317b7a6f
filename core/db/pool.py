"""Connection pools and supplier-scoped transactions.

Every connection runs as the non-superuser role ``wedsync_app`` so PostgreSQL row-level security
applies, and every tenant transaction sets ``app.supplier_id`` with ``SET LOCAL`` semantics
(``set_config(..., true)``), so the setting cannot outlive the transaction on a pooled connection.

Round trips: the web pool does not ping a connection before handing it out (psycopg_pool's ``check``, one
more round trip per transaction). A connection that died (PostgreSQL restarted) fails the transaction's first
exchange, before any of the caller's statements: the pool then checks every idle connection (dropping the dead
ones) and the transaction starts again on a live one, so a restart still costs no error page and no web
restart. Sending ``BEGIN`` and the ``set_config`` together in psycopg's pipeline mode was tried: it cost more
CPU than the round trip it saves (0.26-0.43 against 0.23 ms per transaction).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from core.db.instruments import TimedAsyncCursor, TimedCursor, reconnect_failed

APP_ROLE = "wedsync_app"
_SCOPE = "SELECT set_config('app.supplier_id', %s, true)"
# A page waits at most this long for a free connection (psycopg_pool's default is 30 s): while PostgreSQL is
# down a phone gets an answer quickly instead of a spinner.
GETCONN_TIMEOUT_S = 5.0
# psycopg_pool retries a failed connection with doubling delays until this many seconds have passed, then calls
# reconnect_failed and starts afresh on the next request. Its default (5 minutes) lets the delay grow past a
# minute, so the app could stay down long after PostgreSQL is back; 30 s caps the wait at about 16 s.
RECONNECT_TIMEOUT_S = 30.0


def _session_setup_sql(statement_timeout_ms: int) -> str:
    return f"SET ROLE {APP_ROLE}; SET statement_timeout = {int(statement_timeout_ms)}"


def make_async_pool(url: str, *, min_size: int, max_size: int, statement_timeout_ms: int) -> AsyncConnectionPool:
    setup = _session_setup_sql(statement_timeout_ms)

    async def configure(conn: psycopg.AsyncConnection) -> None:
        await conn.execute(setup)
        await conn.commit()

    return AsyncConnectionPool(
        url,
        kwargs={"cursor_factory": TimedAsyncCursor},  # every statement's time into wedsync_db_query_seconds
        min_size=min_size,
        max_size=max_size,
        configure=configure,
        # No check (a ping) per checkout: a dead connection is caught by the transaction's first exchange and
        # replaced there (_begin_scoped). Callers outside tenant()/unscoped() (the health probe) see the error.
        open=False,
        name="web",
        timeout=GETCONN_TIMEOUT_S,
        reconnect_timeout=RECONNECT_TIMEOUT_S,
        reconnect_failed=reconnect_failed,
    )


def make_sync_pool(
    url: str, *, min_size: int, max_size: int, statement_timeout_ms: int, wait_s: float = 30.0
) -> ConnectionPool:
    setup = _session_setup_sql(statement_timeout_ms)

    def configure(conn: psycopg.Connection) -> None:
        conn.execute(setup)
        conn.commit()

    return ConnectionPool(
        url,
        kwargs={"cursor_factory": TimedCursor},
        min_size=min_size,
        max_size=max_size,
        configure=configure,
        check=ConnectionPool.check_connection,
        open=False,
        name="worker",
        timeout=wait_s,
        reconnect_timeout=RECONNECT_TIMEOUT_S,
        reconnect_failed=reconnect_failed,
    )


@asynccontextmanager
async def tenant(pool: AsyncConnectionPool, supplier_id: int) -> AsyncIterator[psycopg.AsyncConnection]:
    """A transaction in which RLS shows only ``supplier_id``'s rows."""
    async with _scoped(pool, str(supplier_id)) as conn:
        yield conn


@asynccontextmanager
async def unscoped(pool: AsyncConnectionPool) -> AsyncIterator[psycopg.AsyncConnection]:
    """A transaction with no supplier: tenant tables look empty; only ``suppliers`` is usable."""
    async with _scoped(pool, "") as conn:  # '' reads as no supplier (app_supplier_id() is NULL)
        yield conn


@asynccontextmanager
async def _scoped(pool: AsyncConnectionPool, supplier: str) -> AsyncIterator[psycopg.AsyncConnection]:
    """Committed when the block ends, rolled back when it raises (as ``conn.transaction()``; statements inside
    that open ``conn.transaction()`` get a savepoint)."""
    conn = await _begin_scoped(pool, supplier)
    try:
        yield conn
    except BaseException:
        with contextlib.suppress(psycopg.Error):  # a broken connection cannot roll back; the pool drops it
            await conn.rollback()
        raise
    else:
        await conn.commit()
    finally:
        await pool.putconn(conn)


async def _begin_scoped(pool: AsyncConnectionPool, supplier: str) -> psycopg.AsyncConnection:
    """A pooled connection inside a transaction (psycopg's implicit BEGIN) with ``app.supplier_id`` set. A
    connection found dead there has run nothing of the caller's: the pool's idle connections are checked (the
    dead are dropped) and the transaction starts again."""
    for attempt in range(2):
        conn = await pool.getconn()
        try:
            await conn.execute(_SCOPE, [supplier])
        except psycopg.OperationalError:
            await pool.putconn(conn)
            if not conn.broken or attempt:
                raise
            await pool.check()
            continue
        except BaseException:
            await pool.putconn(conn)
            raise
        return conn
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


@contextmanager
def tenant_sync(pool: ConnectionPool, supplier_id: int) -> Iterator[psycopg.Connection]:
    with pool.connection() as conn, conn.transaction():
        conn.execute(_SCOPE, [str(supplier_id)])
        yield conn

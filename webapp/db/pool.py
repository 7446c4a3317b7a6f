"""Connection pools and supplier-scoped transactions.

Every connection runs as the non-superuser role ``wedsync_app`` so PostgreSQL row-level security
applies, and every tenant transaction sets ``app.supplier_id`` with ``SET LOCAL`` semantics
(``set_config(..., true)``), so the setting cannot outlive the transaction on a pooled connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

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

    from webapp.observability import TimedAsyncCursor, reconnect_failed

    return AsyncConnectionPool(
        url,
        kwargs={"cursor_factory": TimedAsyncCursor},  # every statement's time into wedsync_db_query_seconds
        min_size=min_size,
        max_size=max_size,
        configure=configure,
        # A connection broken by a PostgreSQL restart is detected and replaced, not handed out.
        check=AsyncConnectionPool.check_connection,
        open=False,
        name="web",
        timeout=GETCONN_TIMEOUT_S,
        reconnect_timeout=RECONNECT_TIMEOUT_S,
        reconnect_failed=reconnect_failed,
    )


def make_sync_pool(url: str, *, min_size: int, max_size: int, statement_timeout_ms: int) -> ConnectionPool:
    setup = _session_setup_sql(statement_timeout_ms)

    def configure(conn: psycopg.Connection) -> None:
        conn.execute(setup)
        conn.commit()

    from webapp.observability import TimedCursor, reconnect_failed

    return ConnectionPool(
        url,
        kwargs={"cursor_factory": TimedCursor},
        min_size=min_size,
        max_size=max_size,
        configure=configure,
        check=ConnectionPool.check_connection,
        open=False,
        name="worker",
        reconnect_timeout=RECONNECT_TIMEOUT_S,
        reconnect_failed=reconnect_failed,
    )


@asynccontextmanager
async def tenant(pool: AsyncConnectionPool, supplier_id: int) -> AsyncIterator[psycopg.AsyncConnection]:
    """A transaction in which RLS shows only ``supplier_id``'s rows."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(_SCOPE, [str(supplier_id)])
        yield conn


@asynccontextmanager
async def unscoped(pool: AsyncConnectionPool) -> AsyncIterator[psycopg.AsyncConnection]:
    """A transaction with no supplier: tenant tables look empty; only ``suppliers`` is usable."""
    async with pool.connection() as conn, conn.transaction():
        yield conn


@contextmanager
def tenant_sync(pool: ConnectionPool, supplier_id: int) -> Iterator[psycopg.Connection]:
    with pool.connection() as conn, conn.transaction():
        conn.execute(_SCOPE, [str(supplier_id)])
        yield conn

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


def _session_setup_sql(statement_timeout_ms: int) -> str:
    return f"SET ROLE {APP_ROLE}; SET statement_timeout = {int(statement_timeout_ms)}"


def make_async_pool(url: str, *, min_size: int, max_size: int, statement_timeout_ms: int) -> AsyncConnectionPool:
    setup = _session_setup_sql(statement_timeout_ms)

    async def configure(conn: psycopg.AsyncConnection) -> None:
        await conn.execute(setup)
        await conn.commit()

    return AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        configure=configure,
        # A connection broken by a PostgreSQL restart is detected and replaced, not handed out.
        check=AsyncConnectionPool.check_connection,
        open=False,
        name="web",
    )


def make_sync_pool(url: str, *, min_size: int, max_size: int, statement_timeout_ms: int) -> ConnectionPool:
    setup = _session_setup_sql(statement_timeout_ms)

    def configure(conn: psycopg.Connection) -> None:
        conn.execute(setup)
        conn.commit()

    return ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        configure=configure,
        check=ConnectionPool.check_connection,
        open=False,
        name="worker",
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

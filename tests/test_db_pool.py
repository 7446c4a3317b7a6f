"""Supplier-scoped transactions on the web pool (``core.db.pool``), against the session's real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from core.db.pool import make_async_pool, tenant, unscoped
from tests.fixtures import Server, Services, seed_clients, signup


def _run(services: Services, body: Callable[[AsyncConnectionPool], Awaitable[None]]) -> None:
    async def main() -> None:
        pool = make_async_pool(services.database_url, min_size=2, max_size=2, statement_timeout_ms=5000)
        await pool.open(wait=True)
        try:
            await body(pool)
        finally:
            await pool.close()

    asyncio.run(main())


def _kill_app_backends(services: Services, pids: list[int]) -> None:
    with psycopg.connect(services.database_url, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_dead_pooled_connections_are_replaced_before_the_transaction_runs(server: Server, services: Services) -> None:
    """The pool does not ping before handing out a connection; a connection PostgreSQL closed (a restart) fails
    the transaction's first exchange and is replaced there, so the caller's transaction runs, once, on a live one."""
    account = signup(server.url, services.database_url)
    seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Quinn"}])

    async def body(pool: AsyncConnectionPool) -> None:
        pids = []
        async with tenant(pool, account.supplier_id) as a, tenant(pool, account.supplier_id) as b:
            pids = [a.info.backend_pid, b.info.backend_pid]
        _kill_app_backends(services, pids)  # both idle connections of the pool are now dead
        async with tenant(pool, account.supplier_id) as conn:
            assert conn.info.backend_pid not in pids
            row = await (await conn.execute("SELECT partner1_first FROM clients")).fetchall()
        assert row == [("Quinn",)]
        async with unscoped(pool) as conn:
            assert await (await conn.execute("SELECT count(*) FROM clients")).fetchone() == (0,)

    _run(services, body)


def test_a_tenant_block_commits_or_rolls_back_and_keeps_the_scope_inside(server: Server, services: Services) -> None:
    account = signup(server.url, services.database_url)
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Remy"}])

    async def body(pool: AsyncConnectionPool) -> None:
        async with tenant(pool, account.supplier_id) as conn:
            await conn.execute("UPDATE clients SET venue = 'Kept' WHERE id = %s", [cid])

        async def failing_handler() -> None:
            async with tenant(pool, account.supplier_id) as conn:
                await conn.execute("UPDATE clients SET venue = 'Undone' WHERE id = %s", [cid])
                raise RuntimeError("the handler failed")

        with pytest.raises(RuntimeError):
            await failing_handler()
        async with tenant(pool, account.supplier_id) as conn:
            async with conn.transaction(force_rollback=True):  # a savepoint inside, as the search's walk uses
                await conn.execute("UPDATE clients SET venue = 'Savepoint' WHERE id = %s", [cid])
            venue = await (await conn.execute("SELECT venue FROM clients WHERE id = %s", [cid])).fetchone()
            scope = await (await conn.execute("SELECT current_setting('app.supplier_id')")).fetchone()
        assert venue == ("Kept",)
        assert scope == (str(account.supplier_id),)
        async with unscoped(pool) as conn:
            assert await (await conn.execute("SELECT current_setting('app.supplier_id', true)")).fetchone() == ("",)

    _run(services, body)

"""Expired idempotency keys are purged across suppliers by the app role (through the SECURITY DEFINER function),
never before 7 days, and one worker in the fleet does each round."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
import redis
from psycopg_pool import ConnectionPool

from core.db.pool import make_sync_pool
from jobs.housekeeping import purge_idempotency_keys, purge_old_uploads, take_lease
from tests.fixtures import Server, Services, signup


@pytest.fixture
def app_pool(services: Services) -> Iterator[ConnectionPool]:
    pool = make_sync_pool(services.database_url, min_size=1, max_size=2, statement_timeout_ms=10_000)
    pool.open(wait=True)
    try:
        yield pool
    finally:
        pool.close()


def _add_key(conn: psycopg.Connection, supplier_id: int, age: str) -> str:
    key = f"hk-{secrets.token_hex(8)}"
    conn.execute(
        "INSERT INTO idempotency_keys (supplier_id, key, request_hash, state, created_at) "
        "VALUES (%s, %s, 'h', 'done', now() - %s::interval)",
        [supplier_id, key, age],
    )
    return key


def test_purge_removes_only_keys_past_retention_for_every_supplier(
    services: Services, server: Server, app_pool: ConnectionPool
) -> None:
    first = signup(server.url, services.database_url, "Purge One").supplier_id
    second = signup(server.url, services.database_url, "Purge Two").supplier_id
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        old = [_add_key(conn, sid, "10 days") for sid in (first, second)]
        kept = [_add_key(conn, first, "6 days 23 hours"), _add_key(conn, second, "7 days 12 hours")]
    # IDEMPOTENCY_KEEP_DAYS=1 asks for less than the promise: 7 days still hold
    assert purge_idempotency_keys(app_pool, keep_days=1) >= 2
    with psycopg.connect(services.database_url) as conn:
        left = {r[0] for r in conn.execute("SELECT key FROM idempotency_keys WHERE key = ANY(%s)", [old + kept])}
    assert left == {kept[0]}  # 10 days and 7.5 days gone (7-day floor), 6 days 23 h kept
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        young, stale = _add_key(conn, first, "7 days 12 hours"), _add_key(conn, first, "8 days 1 hour")
    purge_idempotency_keys(app_pool)  # IDEMPOTENCY_KEEP_DAYS unset: 8, a day of margin over the promise
    with psycopg.connect(services.database_url) as conn:
        left = {r[0] for r in conn.execute("SELECT key FROM idempotency_keys WHERE key = ANY(%s)", [[young, stale]])}
    assert left == {young}


def test_the_app_role_cannot_delete_keys_directly(services: Services, app_pool: ConnectionPool) -> None:
    """Without the function, RLS hides every row from an unscoped app connection: the purge needs it."""
    with app_pool.connection() as conn:
        cur = conn.execute("DELETE FROM idempotency_keys WHERE created_at < now()")
        assert cur.rowcount == 0


def test_one_worker_takes_each_round(services: Services) -> None:
    client = redis.Redis.from_url(services.redis_url)
    key = f"wedsync:test:lease:{secrets.token_hex(4)}"
    assert take_lease(client, 60, key) is True
    assert take_lease(client, 60, key) is False
    assert 0 < int(client.ttl(key)) <= 60


def test_uploads_of_jobs_finished_longer_ago_than_the_retention_are_purged(
    services: Services, server: Server, app_pool: ConnectionPool
) -> None:
    """A failed or stopped import keeps its file for "Try again" for UPLOAD_KEEP_DAYS (30), then it goes; a job
    still queued or running keeps its file however old it is."""
    sid = signup(server.url, services.database_url, "Uploads").supplier_id
    jobs = {}
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        for label, status, finished in (
            ("old cancelled", "cancelled", "31 days"),
            ("old failed", "failed", "40 days"),
            ("recent cancelled", "cancelled", "29 days"),
            ("old running", "running", None),
        ):
            row = conn.execute(
                "INSERT INTO sync_jobs (supplier_id, kind, source, status, created_at, finished_at) "
                "VALUES (%s, 'file_import', 'csv', %s, now() - interval '60 days', now() - %s::interval) RETURNING id",
                [sid, status, finished],
            ).fetchone()
            assert row is not None
            jobs[label] = row[0]
            conn.execute(
                "INSERT INTO import_upload_chunks (supplier_id, job_id, seq, data) VALUES (%s, %s, 0, 'x')",
                [sid, row[0]],
            )
    assert purge_old_uploads(app_pool) >= 2
    with psycopg.connect(services.database_url) as conn:
        left = {r[0] for r in conn.execute("SELECT job_id FROM import_upload_chunks WHERE supplier_id = %s", [sid])}
    assert left == {jobs["recent cancelled"], jobs["old running"]}

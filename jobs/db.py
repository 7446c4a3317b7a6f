"""The worker process's PostgreSQL pool, opened on first use (actors run in Dramatiq's threads)."""

from __future__ import annotations

import threading

from psycopg_pool import ConnectionPool

from core.db.pool import make_sync_pool
from core.settings import settings

_pool: ConnectionPool | None = None
_lock = threading.Lock()


def pool() -> ConnectionPool:
    global _pool
    with _lock:
        if _pool is None:
            config = settings()
            if not config.database_url:
                raise RuntimeError("DATABASE_URL is not set")
            _pool = make_sync_pool(
                config.database_url,
                min_size=1,
                max_size=config.worker_db_pool_max,
                statement_timeout_ms=config.worker_statement_timeout_ms,
                wait_s=config.worker_db_wait_s,
            )
            _pool.open(wait=True, timeout=30)
        return _pool


def opened() -> ConnectionPool | None:
    """The pool if this process has opened it (metrics read its gauges without opening one)."""
    return _pool

"""The worker process's PostgreSQL pool, opened on first use (actors run in Dramatiq's threads)."""

from __future__ import annotations

import os
import threading

from psycopg_pool import ConnectionPool

from webapp.db.pool import make_sync_pool

_pool: ConnectionPool | None = None
_lock = threading.Lock()


def pool() -> ConnectionPool:
    global _pool
    with _lock:
        if _pool is None:
            url = os.environ["DATABASE_URL"]
            _pool = make_sync_pool(
                url,
                min_size=1,
                max_size=int(os.environ.get("WORKER_DB_POOL_MAX", "8")),
                statement_timeout_ms=int(os.environ.get("WORKER_STATEMENT_TIMEOUT_MS", "600000")),
            )
            _pool.open(wait=True, timeout=30)
        return _pool

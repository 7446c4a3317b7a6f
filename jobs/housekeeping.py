"""Periodic clean-up run by the workers: expired idempotency keys (kept ``IDEMPOTENCY_KEEP_DAYS``, at least 7).

Every worker process runs the loop, but a Redis ``SET NX`` lease makes one of them, fleet-wide, do each round.
Dramatiq has no scheduler of its own, and a thread beside the heartbeat needs no extra process to deploy.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import dramatiq
import redis
import structlog
from psycopg_pool import ConnectionPool

log = structlog.get_logger("wedsync.housekeeping")

LEASE_KEY = "wedsync:housekeeping:lease"
PURGE = "SELECT purge_expired_idempotency_keys(%s)"


def keep_days() -> int:
    try:
        return max(7, int(os.environ.get("IDEMPOTENCY_KEEP_DAYS", "8")))
    except ValueError:
        return 8


def purge_idempotency_keys(pool: ConnectionPool) -> int:
    """Deletes keys past the retention; returns how many went."""
    with pool.connection() as conn:
        row = conn.execute(PURGE, [keep_days()]).fetchone()
    return int(row[0]) if row else 0


def take_lease(client: redis.Redis, seconds: int, key: str = LEASE_KEY) -> bool:
    """True for exactly one caller per ``seconds`` across all workers."""
    return bool(client.set(key, "1", nx=True, ex=seconds))


class Housekeeping(dramatiq.Middleware):
    def __init__(self, redis_url: str, interval_s: float = 3600.0) -> None:
        self.redis_url = redis_url
        self.interval_s = float(os.environ.get("HOUSEKEEPING_INTERVAL_S", interval_s))
        self._stop = threading.Event()

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        self._stop.clear()
        threading.Thread(target=self._loop, name="wedsync-housekeeping", daemon=True).start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._stop.set()

    def _loop(self) -> None:
        from jobs.db import pool  # opened lazily: a worker that never boots never connects

        client = redis.Redis.from_url(self.redis_url, socket_timeout=2)
        delay = min(60.0, self.interval_s)  # not at boot: a deploy restarting every worker is busy enough
        while not self._stop.wait(delay):
            delay = self.interval_s
            try:
                if take_lease(client, max(1, int(self.interval_s))):
                    log.info("purged expired idempotency keys", deleted=purge_idempotency_keys(pool()))
            except Exception as exc:  # the next round tries again; housekeeping must never stop a worker
                log.warning("housekeeping failed", error=type(exc).__name__)

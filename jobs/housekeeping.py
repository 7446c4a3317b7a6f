"""Periodic chores run by the workers:

- every minute, jobs that should be in the queue but have no message there are sent again (see ``resend_lost_jobs``);
- every hour, expired idempotency keys are purged (kept ``IDEMPOTENCY_KEEP_DAYS``, at least 7).

Every worker process runs the loop, but a Redis ``SET NX`` lease per chore makes one of them, fleet-wide, do each
round. Dramatiq has no scheduler of its own, and a thread beside the heartbeat needs no extra process to deploy.
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
SWEEP_LEASE_KEY = "wedsync:housekeeping:sweep"
PURGE = "SELECT purge_expired_idempotency_keys(%s)"
IDLE_JOBS = "SELECT job_id, supplier_id, kind FROM unfinished_jobs_idle_for(%s)"
NAMESPACE = "wedsync"  # the broker's (jobs.broker)
QUEUES = ("imports",)
# A job row is committed before its message is sent; younger than this, a missing message may still be on its way.
SWEEP_IDLE_S = 120


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


def job_ids_in_queues(client: redis.Redis) -> set[int]:
    """Jobs with a message anywhere in Redis: waiting, delayed for a retry, being worked on (a message stays until
    it is acknowledged), or dead-lettered (the dead-letter middleware settles those)."""
    from dramatiq import Message
    from dramatiq.common import dq_name, xq_name

    ids: set[int] = set()
    for queue in QUEUES:
        for name in (queue, dq_name(queue), xq_name(queue)):
            for _, raw in client.hscan_iter(f"{NAMESPACE}:{name}.msgs"):
                args = Message.decode(raw).args
                if len(args) >= 2 and str(args[1]).isdigit():
                    ids.add(int(args[1]))
    return ids


def resend_lost_jobs(
    pool: ConnectionPool, client: redis.Redis, broker: dramatiq.Broker | None = None, idle_s: int = SWEEP_IDLE_S
) -> list[int]:
    """Send again the message of every queued or running job that has none, so it runs (or resumes from its
    checkpoint) instead of waiting for ever: Redis restarted without its append-only file, or a web process died
    between committing a job and sending its message. A job that still has a message is left alone, so a job is
    never sent twice."""
    from jobs.actors import ACTORS_BY_KIND

    with pool.connection() as conn:
        idle = conn.execute(IDLE_JOBS, [idle_s]).fetchall()
    if not idle:
        return []
    present = job_ids_in_queues(client)
    broker = broker or dramatiq.get_broker()
    sent = []
    for job_id, supplier_id, kind in idle:
        if job_id not in present and kind in ACTORS_BY_KIND:
            broker.enqueue(ACTORS_BY_KIND[kind].message(supplier_id, job_id))
            sent.append(job_id)
    if sent:
        log.warning("sent lost job messages again", job_ids=sent)
    return sent


def take_lease(client: redis.Redis, seconds: int, key: str = LEASE_KEY) -> bool:
    """True for exactly one caller per ``seconds`` across all workers."""
    return bool(client.set(key, "1", nx=True, ex=seconds))


class Housekeeping(dramatiq.Middleware):
    def __init__(self, redis_url: str, interval_s: float = 3600.0, sweep_s: float = 60.0) -> None:
        self.redis_url = redis_url
        self.interval_s = float(os.environ.get("HOUSEKEEPING_INTERVAL_S", interval_s))
        # 0 turns the lost-message sweep off (the tests do: they share one PostgreSQL between several Redis
        # databases, and a worker would take another database's waiting jobs for lost ones).
        self.sweep_s = float(os.environ.get("JOB_SWEEP_INTERVAL_S", sweep_s))
        self._stop = threading.Event()

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        self._stop.clear()
        threading.Thread(target=self._loop, name="wedsync-housekeeping", daemon=True).start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._stop.set()

    def _loop(self) -> None:
        from jobs.db import pool  # opened lazily: a worker that never boots never connects

        client = redis.Redis.from_url(self.redis_url, socket_timeout=2)
        tick = min(60.0, self.interval_s, self.sweep_s or 60.0)
        purge_due = False  # not at boot: a deploy restarting every worker is busy enough
        while not self._stop.wait(tick):
            try:
                if self.sweep_s > 0 and take_lease(client, max(1, int(self.sweep_s) - 1), SWEEP_LEASE_KEY):
                    resend_lost_jobs(pool(), client)
                if purge_due and take_lease(client, max(1, int(self.interval_s))):
                    log.info("purged expired idempotency keys", deleted=purge_idempotency_keys(pool()))
                purge_due = True
            except Exception as exc:  # the next round tries again; housekeeping must never stop a worker
                log.warning("housekeeping failed", error=type(exc).__name__)

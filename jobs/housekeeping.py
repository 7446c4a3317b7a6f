"""Periodic chores run by the workers:

- every minute, jobs that should be in the queue but have no message there are sent again (see ``resend_lost_jobs``),
  jobs whose message Dramatiq dead-lettered while PostgreSQL could not be told are marked failed, and running jobs
  that have their message but have not moved for far longer than ``JOB_STALL_S`` are ended failed
  (``fail_stalled_jobs``);
- every hour, expired idempotency keys are purged (kept ``IDEMPOTENCY_KEEP_DAYS``, at least 7), and so are the
  uploads of failed or stopped file imports nobody tried again (kept ``UPLOAD_KEEP_DAYS``), what undoing an import
  needs once it is older than 30 days, clients deleted more than 30 days ago (until then they can be restored), and
  the offline book's tombstones of clients deleted for good more than 30 days ago (a phone last refreshed before
  that gets the whole book again).

Every worker process runs the loop, but a Redis ``SET NX`` lease per chore makes one of them, fleet-wide, do each
round. Dramatiq has no scheduler of its own, and a thread beside the heartbeat needs no extra process to deploy.
"""

from __future__ import annotations

import threading
from typing import Any

import dramatiq
import redis
import structlog
from dramatiq import Message
from dramatiq.common import dq_name, xq_name
from psycopg_pool import ConnectionPool

from core import job_lifecycle as lifecycle
from core.db.pool import tenant_sync
from core.job_lifecycle import JOB_KINDS, JOB_QUEUE, as_kind
from core.queue import NAMESPACE, send_job
from core.settings import settings
from jobs.db import pool
from jobs.failures import settle_dead_job

log = structlog.get_logger("wedsync.housekeeping")

LEASE_KEY = "wedsync:housekeeping:lease"
SWEEP_LEASE_KEY = "wedsync:housekeeping:sweep"
PURGE = "SELECT purge_expired_idempotency_keys(%s)"
PURGE_UNDO = "SELECT purge_expired_undo_records(%s)"
UNDO_DAYS = 30  # how long a finished import can be taken back
PURGE_UPLOADS = "SELECT purge_old_uploads(%s)"
PURGE_CLIENTS = "SELECT purge_deleted_clients(%s)"
PURGE_BOOK_DELETIONS = "SELECT purge_book_deletions(%s)"
# A deleted client can be restored this long (the web app's promise, webapp/queries/clients.py KEEP_DELETED).
KEEP_DELETED_DAYS = 30
IDLE_JOBS = "SELECT job_id, supplier_id, kind FROM unfinished_jobs_idle_for(%s)"
STALLED_JOBS = "SELECT job_id, supplier_id FROM running_jobs_idle_for(%s)"
RESENT_MESSAGE = "Sent to a worker again: the queue had lost it."
# A job row is committed before its message is sent; younger than this, a missing message may still be on its way.
SWEEP_IDLE_S = 120


# A phone may replay a week-old outbox: keys are kept at least this long whatever the setting asks.
MIN_KEEP_DAYS = 7


def purge_idempotency_keys(pool: ConnectionPool, keep_days: int | None = None) -> int:
    """Deletes keys past the retention (``IDEMPOTENCY_KEEP_DAYS``, at least a week); returns how many went."""
    days = max(MIN_KEEP_DAYS, settings().idempotency_keep_days if keep_days is None else keep_days)
    with pool.connection() as conn:
        row = conn.execute(PURGE, [days]).fetchone()
    return int(row[0]) if row else 0


def purge_old_uploads(pool: ConnectionPool) -> int:
    """Deletes the uploads of jobs finished more than ``UPLOAD_KEEP_DAYS`` ago; returns how many chunks went."""
    with pool.connection() as conn:
        row = conn.execute(PURGE_UPLOADS, [settings().upload_keep_days]).fetchone()
    return int(row[0]) if row else 0


def purge_deleted_clients(pool: ConnectionPool, keep_days: int = KEEP_DELETED_DAYS) -> int:
    """Deletes for good the clients deleted more than ``keep_days`` (at least 30) ago; returns how many went."""
    with pool.connection() as conn:
        row = conn.execute(PURGE_CLIENTS, [max(KEEP_DELETED_DAYS, keep_days)]).fetchone()
    return int(row[0]) if row else 0


def purge_book_deletions(pool: ConnectionPool, keep_days: int = KEEP_DELETED_DAYS) -> int:
    """Forgets the offline book's tombstones older than ``keep_days`` (at least 30, migrations/0032)."""
    with pool.connection() as conn:
        row = conn.execute(PURGE_BOOK_DELETIONS, [max(KEEP_DELETED_DAYS, keep_days)]).fetchone()
    return int(row[0]) if row else 0


def _job_ids(client: redis.Redis, queue: str) -> set[int]:
    ids: set[int] = set()
    for _, raw in client.hscan_iter(f"{NAMESPACE}:{queue}.msgs"):
        args = Message.decode(raw).args
        if len(args) >= 2 and str(args[1]).isdigit():
            ids.add(int(args[1]))
    return ids


def purge_undo_records(pool: ConnectionPool) -> int:
    """Deletes what undoing imports finished more than UNDO_DAYS ago would need; returns how many rows went."""
    with pool.connection() as conn:
        row = conn.execute(PURGE_UNDO, [UNDO_DAYS]).fetchone()
    return int(row[0]) if row else 0


def job_ids_in_queues(client: redis.Redis) -> set[int]:
    """Jobs with a message anywhere in Redis: waiting, delayed for a retry, being worked on (a message stays until
    it is acknowledged), or dead-lettered."""
    return _job_ids(client, JOB_QUEUE) | _job_ids(client, dq_name(JOB_QUEUE)) | dead_lettered_job_ids(client)


def dead_lettered_job_ids(client: redis.Redis) -> set[int]:
    return _job_ids(client, xq_name(JOB_QUEUE))


def resend_lost_jobs(
    pool: ConnectionPool, client: redis.Redis, broker: dramatiq.Broker | None = None, idle_s: int = SWEEP_IDLE_S
) -> list[int]:
    """Send again the message of every queued or running job that has none, so it runs (or resumes from its
    checkpoint) instead of waiting for ever: Redis restarted without its append-only file, or a web process died
    between committing a job and sending its message. A job that still has a message is left alone, so a job is
    never sent twice. A job whose only message is dead-lettered is marked failed (retryable): Dramatiq gave up on
    it while PostgreSQL was away, so ``DeadJobRecorder`` could not."""
    with pool.connection() as conn:
        idle = conn.execute(IDLE_JOBS, [idle_s]).fetchall()
    if not idle:
        return []
    dead = dead_lettered_job_ids(client)
    present = job_ids_in_queues(client)
    broker = broker or dramatiq.get_broker()
    sent = []
    for job_id, supplier_id, kind in idle:
        if job_id in dead and job_id not in present - dead:
            settle_dead_job(supplier_id, job_id)
        elif job_id not in present and kind in JOB_KINDS:
            # Moved first, so a job resent after a long silence is not taken for a stalled one while it waits its turn.
            with tenant_sync(pool, supplier_id) as conn:
                lifecycle.set_status_line(conn, job_id, RESENT_MESSAGE)
            send_job(as_kind(kind), supplier_id, job_id, broker)
            sent.append(job_id)
    if sent:
        log.warning("sent lost job messages again", job_ids=sent)
    return sent


def stalled_message(still_s: float) -> str:
    return (
        f"This import made no progress for {still_s / 60:.0f} minutes, so it was stopped. "
        "Everything imported before that is kept; you can try again."
    )


def fail_stalled_jobs(pool: ConnectionPool, client: redis.Redis, fail_after_s: float | None = None) -> list[int]:
    """End failed (retryable) every running job that has not moved for ``fail_after_s`` (``stall_fail_after_s``)
    although its message is in Redis: the worker holding it is alive but the job is stuck. A job with no message is
    left to ``resend_lost_jobs``, which sends it again instead: it resumes from its checkpoint."""
    still_s = settings().stall_fail_after_s if fail_after_s is None else fail_after_s
    with pool.connection() as conn:
        stalled = conn.execute(STALLED_JOBS, [still_s]).fetchall()
    if not stalled:
        return []
    present = job_ids_in_queues(client) - dead_lettered_job_ids(client)
    failed = [
        job_id
        for job_id, supplier_id in stalled
        if job_id in present and settle_dead_job(supplier_id, job_id, stalled_message(still_s))
    ]
    if failed:
        log.warning("ended stalled jobs", job_ids=failed)
    return failed


def sweep(pool: ConnectionPool, client: redis.Redis, broker: dramatiq.Broker | None = None) -> None:
    """One round of the job sweep: stalled jobs first, so a job about to be sent again is not judged stalled."""
    fail_stalled_jobs(pool, client)
    resend_lost_jobs(pool, client, broker)


def take_lease(client: redis.Redis, seconds: int, key: str = LEASE_KEY) -> bool:
    """True for exactly one caller per ``seconds`` across all workers."""
    return bool(client.set(key, "1", nx=True, ex=seconds))


class Housekeeping(dramatiq.Middleware):
    def __init__(self, redis_url: str, interval_s: float, sweep_s: float) -> None:
        self.redis_url = redis_url
        self.interval_s = interval_s
        self.sweep_s = sweep_s  # 0 turns the lost-message sweep off (Settings.job_sweep_interval_s says when)
        self._stop = threading.Event()

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        self._stop.clear()
        threading.Thread(target=self._loop, name="wedsync-housekeeping", daemon=True).start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._stop.set()

    def _loop(self) -> None:
        client = redis.Redis.from_url(self.redis_url, socket_timeout=2)
        tick = min(60.0, self.interval_s, self.sweep_s or 60.0)
        purge_due = False  # not at boot: a deploy restarting every worker is busy enough
        while not self._stop.wait(tick):
            try:
                if self.sweep_s > 0 and take_lease(client, max(1, int(self.sweep_s) - 1), SWEEP_LEASE_KEY):
                    sweep(pool(), client)
                if purge_due and take_lease(client, max(1, int(self.interval_s))):
                    log.info("purged expired idempotency keys", deleted=purge_idempotency_keys(pool()))
                    log.info("purged expired undo records", deleted=purge_undo_records(pool()))
                    log.info("purged old uploads", chunks=purge_old_uploads(pool()))
                    log.info("purged deleted clients", deleted=purge_deleted_clients(pool()))
                    log.info("purged book tombstones", deleted=purge_book_deletions(pool()))
                purge_due = True
            except Exception as exc:  # the next round tries again; housekeeping must never stop a worker
                log.warning("housekeeping failed", error=type(exc).__name__)

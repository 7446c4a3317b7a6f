"""Dramatiq actors. Payloads carry ids only; everything else is loaded inside the actor."""

from __future__ import annotations

import dramatiq

import jobs.broker  # noqa: F401  - the broker must exist before any actor is declared
from jobs.db import pool
from webapp.db.pool import tenant_sync

MARK_PING_DONE = """
UPDATE sync_jobs
SET status = 'succeeded', processed = 1, started_at = now(), finished_at = now(), updated_at = now(),
    message = 'The background worker is running.'
WHERE id = %s AND status = 'queued'
"""


@dramatiq.actor(queue_name="default", max_retries=3, time_limit=60_000)
def ping(supplier_id: int, job_id: int) -> None:
    """A round trip through Redis and a worker, used by tests and the operator to prove the queue works."""
    with tenant_sync(pool(), supplier_id) as conn:
        conn.execute(MARK_PING_DONE, [job_id])

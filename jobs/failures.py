"""Dramatiq middleware: a job whose message is dead-lettered (retries exhausted) is marked failed in
PostgreSQL, so the photographer sees it and can retry it, instead of a job stuck at "running" forever."""

from __future__ import annotations

from typing import Any

import dramatiq
import structlog

log = structlog.get_logger("wedsync.jobs")

JOB_ACTORS = frozenset({"full_import", "incremental_sync", "file_import", "export_to_crm"})
DEAD_MESSAGE = "This import stopped after several tries. Nothing imported so far was lost; you can try again."


class DeadJobRecorder(dramatiq.Middleware):
    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        if exception is None or not getattr(message, "failed", False) or message.actor_name not in JOB_ACTORS:
            return
        try:
            supplier_id, job_id = (int(a) for a in message.args[:2])
        except (TypeError, ValueError):
            return
        from jobs.actors import publisher
        from jobs.db import pool
        from jobs.runner import Reporter
        from jobs.store import counts, load, mark_dead
        from webapp.db.pool import tenant_sync

        try:
            with tenant_sync(pool(), supplier_id) as conn:
                changed = mark_dead(conn, job_id, DEAD_MESSAGE)
                state, job = counts(conn, job_id), load(conn, job_id)
            if changed and job is not None:
                Reporter(job, publisher().emit).report(state)
        except Exception:  # never let bookkeeping break the worker; the log says what happened
            log.exception("could not record a dead-lettered job", job_id=job_id)

"""A job whose message Dramatiq gives up on (retries used up, or skipped as too old) is marked failed in
PostgreSQL, so the photographer sees it and can try again, instead of a job stuck at "running" for ever.

Dramatiq runs ``after_process_message`` hooks in reverse order of the middleware list, and it is the Retries
middleware's hook that decides a message has failed. This middleware must therefore sit *before* Retries in the
list (``jobs.broker`` adds it with ``before=Retries``), or it would look before the verdict and never see one.

PostgreSQL may be down at that very moment (it is often why the retries ran out): then nothing is written here,
and the lost-message sweep (``jobs.housekeeping``) settles the job from the dead-letter queue once it is back.
"""

from __future__ import annotations

from typing import Any

import dramatiq
import structlog

from core import job_lifecycle as lifecycle
from core.db.pool import tenant_sync
from jobs.db import pool
from jobs.errors import stopped_message
from jobs.notices import announce_end
from jobs.publishing import publisher
from jobs.runner import Reporter

log = structlog.get_logger("wedsync.jobs")

DEAD_MESSAGE = "This import stopped after several tries. Everything imported before that is kept; you can try again."
# The actor option that marks an actor as one that runs a sync_jobs row (args: supplier id, job id).
TRACKS_JOB = "tracks_job"


def job_of(broker: dramatiq.Broker, message: dramatiq.Message[Any]) -> tuple[int, int] | None:
    """(supplier id, job id) when ``message`` is for an actor that runs a job."""
    try:
        actor = broker.get_actor(message.actor_name)
    except dramatiq.errors.ActorNotFound:
        return None
    if not actor.options.get(TRACKS_JOB):
        return None
    try:
        supplier_id, job_id = (int(a) for a in message.args[:2])
    except (TypeError, ValueError):
        return None
    return supplier_id, job_id


def settle_dead_job(supplier_id: int, job_id: int, message: str = DEAD_MESSAGE) -> bool:
    """Mark a queued or running job failed (retryable) and tell its watchers; False when it had already ended."""
    with tenant_sync(pool(), supplier_id) as conn:
        changed = lifecycle.mark_dead(conn, job_id, message)
        state, job = lifecycle.counts(conn, job_id), lifecycle.load(conn, job_id)
    if changed and job is not None:
        Reporter(job, publisher().emit).report(state)
        announce_end(supplier_id, job_id, "failed")
    return changed


class DeadJobRecorder(dramatiq.Middleware):
    @property
    def actor_options(self) -> set[str]:
        return {TRACKS_JOB}

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        if exception is not None and message.failed:
            self._settle(broker, message, stopped_message(exception))

    def after_skip_message(self, broker: Any, message: Any) -> None:
        if message.failed:  # AgeLimit: too old to run at all
            self._settle(broker, message)

    def _settle(self, broker: Any, message: Any, text: str = DEAD_MESSAGE) -> None:
        found = job_of(broker, message)
        if found is None:
            return
        try:
            settle_dead_job(*found, text)
        except Exception:  # never let bookkeeping break the worker; the sweep settles it later
            log.exception("could not record a dead-lettered job", job_id=found[1])

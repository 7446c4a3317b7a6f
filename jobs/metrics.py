"""Dramatiq middleware: how long each actor's messages take, into ``wedsync_job_duration_seconds``.

Dramatiq ships a Prometheus middleware, but it serves its own HTTP endpoint per worker and keeps its own registry;
ours writes into the shared metrics (multiprocess files when ``PROMETHEUS_MULTIPROC_DIR`` is set), so one scrape
of any web process on the machine shows the workers' jobs too.
"""

from __future__ import annotations

import os
import time
from typing import Any

import dramatiq
from prometheus_client import multiprocess

from core.db.instruments import record_pool_stats
from core.metrics import JOB_SECONDS
from core.settings import settings
from jobs.db import opened as opened_pool

_STARTED = "wedsync_started_at"  # kept on the message object, never in the message sent to Redis


class JobDurations(dramatiq.Middleware):
    def before_process_message(self, broker: Any, message: Any) -> None:
        setattr(message, _STARTED, time.perf_counter())

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        self._observe(message, "ok" if exception is None else "failed")
        pool = opened_pool()
        if pool is not None:  # the worker's pool gauges, refreshed as it works (it serves no scrapes itself)
            record_pool_stats(pool)

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        # Live gauges (pool, SSE) of a process that has gone must stop counting in the multiprocess sum.
        if settings().metrics_dir:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    def after_skip_message(self, broker: Any, message: Any) -> None:
        self._observe(message, "skipped")

    def _observe(self, message: Any, outcome: str) -> None:
        started = getattr(message, _STARTED, None)
        if started is not None:
            JOB_SECONDS.labels(message.actor_name, outcome).observe(time.perf_counter() - started)

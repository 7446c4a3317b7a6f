"""Dramatiq middleware: how long each actor's messages take, into ``wedsync_job_duration_seconds``.

Dramatiq ships a Prometheus middleware, but it serves its own HTTP endpoint per worker and keeps its own registry;
ours writes into the shared metrics (multiprocess files when ``PROMETHEUS_MULTIPROC_DIR`` is set), so one scrape
of any web process on the machine shows the workers' jobs too.
"""

from __future__ import annotations

import time
from typing import Any

import dramatiq

from webapp.metrics import JOB_SECONDS

_STARTED = "wedsync_started_at"  # kept on the message object, never in the message sent to Redis


class JobDurations(dramatiq.Middleware):
    def before_process_message(self, broker: Any, message: Any) -> None:
        setattr(message, _STARTED, time.perf_counter())

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        self._observe(message, "ok" if exception is None else "failed")

    def after_skip_message(self, broker: Any, message: Any) -> None:
        self._observe(message, "skipped")

    def _observe(self, message: Any, outcome: str) -> None:
        started = getattr(message, _STARTED, None)
        if started is not None:
            JOB_SECONDS.labels(message.actor_name, outcome).observe(time.perf_counter() - started)

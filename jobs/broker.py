"""The workers' Dramatiq broker. Import this module before any actor module (``jobs.actors`` does).

Dramatiq binds actors to the global broker at import time, so this is the one module with an import-time effect:
it builds the RedisBroker (which connects lazily) from the settings and adds the workers' middleware.
"""

from __future__ import annotations

import dramatiq
from dramatiq.middleware import Retries

from core.queue import make_broker
from core.settings import settings
from jobs.cleaning_pool import StartCleaningPool
from jobs.failures import DeadJobRecorder
from jobs.heartbeat import DeadWorkerReclaimer, WorkerHeartbeat
from jobs.housekeeping import Housekeeping
from jobs.metrics import JobDurations

broker = make_broker(settings())
broker.add_middleware(WorkerHeartbeat(settings().redis))
broker.add_middleware(DeadWorkerReclaimer(settings().worker_heartbeat_timeout_ms))
broker.add_middleware(
    Housekeeping(settings().redis, settings().housekeeping_interval_s, settings().job_sweep_interval_s)
)
broker.add_middleware(JobDurations())
broker.add_middleware(StartCleaningPool())
# Before Retries: Dramatiq calls after_process_message hooks in reverse order, and Retries' hook gives the verdict.
broker.add_middleware(DeadJobRecorder(), before=Retries)
dramatiq.set_broker(broker)
